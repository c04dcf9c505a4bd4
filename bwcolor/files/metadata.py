"""Image metadata carried from input to output: EXIF, ICC profile, DPI, XMP, and a provenance tag.

What is read (:func:`read_metadata`, from the Pillow image opened by :mod:`bwcolor.files.decode`):

* EXIF: the descriptive tags of the main directory (description, make, model, date, artist,
  copyright, ...) and the Exif and GPS sub-directories, minus what would be false after
  colorization or cannot be moved safely: orientation (the pixels are stored upright, so it is
  written as 1), pixel dimensions, maker notes, thumbnails and layout tags (strips, tiles).
* ICC profile: kept when it describes RGB pixels. A Gray or CMYK profile cannot describe the RGB
  output, which then gets an sRGB profile: the colours are computed in sRGB.
* DPI, and the XMP packet as it is.

Provenance (on by default): EXIF Software says ``bwcolor <version>, model <name>``, and the XMP
packet gets IPTC's Digital Source Type "composite with trained algorithmic media", the standard
mark for an image altered by a trained model, with the model's name, so archives can tell a
colorized image from an original colour photograph.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from PIL import Image

SOFTWARE = 0x0131
ORIENTATION = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
#: Main-directory tags carried over: they describe the picture, not the pixels' layout.
DESCRIPTIVE_TAGS = (
    0x010D,  # DocumentName
    0x010E,  # ImageDescription
    0x010F,  # Make
    0x0110,  # Model
    0x0132,  # DateTime
    0x013B,  # Artist
    0x013C,  # HostComputer
    0x8298,  # Copyright
    0x9C9B,  # XPTitle
    0x9C9C,  # XPComment
    0x9C9D,  # XPAuthor
    0x9C9E,  # XPKeywords
    0x9C9F,  # XPSubject
)
#: Exif sub-directory tags dropped: stale after colorization, or holding offsets that break.
DROPPED_EXIF_TAGS = (0xA002, 0xA003, 0x927C, 0xA005)  # PixelX/YDimension, MakerNote, Interop
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


@dataclass
class Metadata:
    """What an output should carry. Plain values only, so a job can travel between processes."""

    tags: dict[int, Any] = field(default_factory=dict)  # EXIF main-directory descriptive tags
    exif_ifd: dict[int, Any] = field(default_factory=dict)
    gps_ifd: dict[int, Any] = field(default_factory=dict)
    icc_profile: bytes | None = None  # an RGB profile, or None (sRGB)
    dpi: tuple[float, float] | None = None
    xmp: bytes | None = None
    provenance: str | None = None  # "bwcolor <version>, model <name>" once colorized
    found_provenance: str | None = None  # the input's own bwcolor tag: it is a bwcolor output

    def colorized_by(self) -> str | None:
        """The input's bwcolor provenance (``bwcolor <version>, model <name>``) if bwcolor made
        it (EXIF Software, the TIFF Software tag or its XMP mark), else None."""
        return self.found_provenance

    def with_provenance(self, model_name: str) -> Metadata:
        from bwcolor import __version__

        return replace(self, provenance=f"bwcolor {__version__}, model {model_name}")

    def exif_bytes(self) -> bytes:
        """An EXIF block (``Exif\\0\\0`` + TIFF structure) with orientation 1 and the provenance."""
        exif = Image.Exif()
        exif.update(self.tags)
        exif[ORIENTATION] = 1
        if self.provenance:
            exif[SOFTWARE] = self.provenance
        if self.exif_ifd:
            exif[EXIF_IFD] = dict(self.exif_ifd)
        if self.gps_ifd:
            exif[GPS_IFD] = dict(self.gps_ifd)
        return exif.tobytes()

    def xmp_packet(self) -> bytes | None:
        """The input's XMP with a provenance description added (or a new packet), or None."""
        if not self.provenance:
            return self.xmp
        description = (
            '<rdf:Description rdf:about="" '
            'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
            'xmlns:bwcolor="urn:bwcolor:xmp:1.0/" '
            f'Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}" '
            f'bwcolor:Colorized="{_xml_escape(self.provenance)}"/>'
        )
        if self.xmp:
            text = self.xmp.decode("utf-8", "replace")
            head, sep, rest = text.partition("<rdf:RDF")
            end = rest.find(">")
            if sep and end >= 0:  # one more rdf:Description inside the existing rdf:RDF
                return (head + sep + rest[: end + 1] + description + rest[end + 1 :]).encode()
        return (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f"{description}</rdf:RDF></x:xmpmeta>"
            '<?xpacket end="w"?>'
        ).encode()

    def icc_or_srgb(self) -> bytes:
        return self.icc_profile or srgb_profile()


#: The most bytes one JPEG APP segment holds after its 2-byte length.
JPEG_SEGMENT = 65533
XMP_JPEG_HEADER = len(b"http://ns.adobe.com/xap/1.0/\0")
#: The largest DPI each format's resolution field holds (JFIF: 16-bit dots per inch; BMP: signed
#: 32-bit pixels per metre; PNG: unsigned 32-bit pixels per metre; TIFF: 32-bit rationals).
MAX_DPI = {"jpg": 65535, "bmp": (2**31 - 1) * 0.0254, "png": (2**32 - 1) * 0.0254, "tif": 2**32 - 1}
TAG_NAMES = {0x010D: "DocumentName", 0x010E: "ImageDescription", 0x010F: "Make", 0x0110: "Model",
             0x0132: "DateTime", 0x013B: "Artist", 0x013C: "HostComputer", 0x8298: "Copyright"}  # fmt: skip


def fit_metadata(meta: Metadata, fmt: str) -> tuple[Metadata, list[str]]:
    """``meta`` shortened to what ``fmt`` can hold, and a note for each thing changed or left out.

    The picture always wins over its metadata: TIFF's text tags are 7-bit ASCII (other letters
    are written as escapes, e.g. ``caf\\xe9``; the XMP keeps them exactly); JPEG holds at most
    64 KB of EXIF and of XMP (a larger block is left out; the provenance mark stays); a DPI beyond
    the format's field is left out.
    """
    notes: list[str] = []
    if fmt == "tif":
        tags = {}
        for tag, value in meta.tags.items():
            if isinstance(value, str) and not value.isascii():
                value = ascii_text(value)
                notes.append(
                    f"{TAG_NAMES.get(tag, hex(tag))}: TIFF text tags hold ASCII only: other letters escaped"
                )
            tags[tag] = value
        if meta.provenance and not meta.provenance.isascii():  # escaped by the TIFF writer
            notes.append(
                "Software: TIFF text tags hold ASCII only: the model's name escaped (exact in the XMP)"
            )
        meta = replace(meta, tags=tags)
    if fmt == "jpg":
        size = len(meta.exif_bytes())
        if size > JPEG_SEGMENT:
            meta = replace(meta, tags={}, exif_ifd={}, gps_ifd={})
            notes.append(
                f"EXIF ({size:,} bytes) exceeds JPEG's 64 KB segment: left out but for the provenance tag"
            )
        xmp = meta.xmp_packet()
        if xmp and len(xmp) + XMP_JPEG_HEADER > JPEG_SEGMENT:
            meta = replace(meta, xmp=None)
            notes.append(
                f"XMP ({len(xmp):,} bytes) exceeds JPEG's 64 KB segment: left out but for the provenance mark"
            )
    if meta.dpi and (fmt in MAX_DPI) and not all(0 < d <= MAX_DPI[fmt] for d in meta.dpi):
        notes.append(f"resolution {meta.dpi[0]:g}x{meta.dpi[1]:g} dpi does not fit the {fmt} field: left out")
        meta = replace(meta, dpi=None)
    return meta, notes


def ascii_text(text: str) -> str:
    """``text`` for a 7-bit ASCII field: other letters as Python escapes (``caf\\xe9``)."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """LittleCMS's sRGB profile, with a fixed creation date so that outputs are reproducible."""
    from PIL import ImageCms

    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[24:36] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)  # header: date and time of creation
    icc[84:100] = bytes(16)  # profile ID (an MD5 over the header) left unset, as allowed
    return bytes(icc)


def read_metadata(im: Image.Image) -> Metadata:
    """The metadata of an opened Pillow image worth carrying to its colorized version.

    Never raises: a damaged EXIF block or profile is dropped, it does not stop the image.
    """
    meta = Metadata()
    try:
        exif = im.getexif()
        meta.tags = {t: exif[t] for t in DESCRIPTIVE_TAGS if t in exif}
        meta.exif_ifd = {k: v for k, v in exif.get_ifd(EXIF_IFD).items() if k not in DROPPED_EXIF_TAGS}
        meta.gps_ifd = dict(exif.get_ifd(GPS_IFD))
    except Exception:  # noqa: BLE001 - broken EXIF: carry none of it
        meta.tags, meta.exif_ifd, meta.gps_ifd = {}, {}, {}
    icc = im.info.get("icc_profile")
    if isinstance(icc, bytes) and len(icc) >= 20 and icc[16:20] == b"RGB ":
        meta.icc_profile = icc
    dpi = im.info.get("dpi")
    if hasattr(im, "tag_v2") and not (282 in im.tag_v2 and im.tag_v2.get(296, 2) in (2, 3)):
        dpi = None  # a TIFF without resolution tags, or with no unit: Pillow says 1 dpi; none holds
    try:
        if dpi and len(dpi) == 2 and all(0 < float(d) < float("inf") for d in dpi):
            meta.dpi = (float(dpi[0]), float(dpi[1]))
    except (TypeError, ValueError):
        pass
    try:
        software = str(im.getexif().get(SOFTWARE, ""))
    except Exception:  # noqa: BLE001 - broken EXIF: no tag
        software = ""
    if software.startswith("bwcolor "):
        meta.found_provenance = software
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if xmp is None and hasattr(im, "tag_v2"):
        xmp = im.tag_v2.get(700)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    meta.xmp = xmp if isinstance(xmp, bytes) and xmp else None
    if meta.found_provenance is None and meta.xmp and b"bwcolor:Colorized=" in meta.xmp:
        mark = meta.xmp.split(b'bwcolor:Colorized="', 1)[1].split(b'"', 1)[0]
        meta.found_provenance = mark.decode("utf-8", "replace") or "bwcolor"
    return meta
