import cv2
import numpy as np
import pytest
from skimage import color

from bwcolor import lab


def test_rgb_to_lab_matches_scikit_image():
    rgb = np.random.default_rng(0).random((40, 50, 3), dtype=np.float32)
    ours = lab.rgb_to_lab(rgb)
    ref = color.rgb2lab(rgb)
    assert np.abs(ours[..., 0] - ref[..., 0]).max() < 0.3
    assert np.abs(ours[..., 1:] - ref[..., 1:]).max() < 0.6


def test_lab_round_trip():
    rgb = np.random.default_rng(1).random((32, 32, 3), dtype=np.float32)
    assert np.abs(lab.lab_to_rgb(lab.rgb_to_lab(rgb)) - rgb).max() < 0.005
    ref = color.lab2rgb(lab.rgb_to_lab(rgb))
    assert np.abs(lab.lab_to_rgb(lab.rgb_to_lab(rgb)) - ref).max() < 0.005


def test_gray_lightness_is_exact_lab_of_gray():
    g = np.linspace(0, 1, 1001, dtype=np.float32).reshape(7, 143)
    ref = color.rgb2lab(np.repeat(g[..., None], 3, -1))[..., 0]
    assert np.abs(lab.gray_to_lightness(g) - ref).max() < 1e-3
    u8 = (np.arange(256, dtype=np.uint8)).reshape(16, 16)
    assert np.abs(lab.lightness_of_gray(u8) - lab.gray_to_lightness(u8 / 255.0)).max() < 1e-4
    u16 = np.array([[0, 1000, 40000, 65535]], dtype=np.uint16)
    assert np.abs(lab.lightness_of_gray(u16) - lab.gray_to_lightness(u16 / 65535.0)).max() < 1e-3


@pytest.mark.parametrize(
    "hw, size, expected",
    [
        ((256, 256), 256, (256, 256)),
        ((512, 768), 256, (168, 256)),
        ((37, 1000), 256, (8, 256)),
        ((1000, 37), 256, (256, 8)),
        ((3, 5), 256, (152, 256)),
        ((333, 333), 128, (128, 128)),
    ],
)
def test_render_shape_keeps_aspect_and_multiple_of_8(hw, size, expected):
    assert lab.render_shape(*hw, size) == expected


def test_render_shape_rejects_bad_sizes():
    with pytest.raises(ValueError):
        lab.render_shape(10, 10, 100)
    with pytest.raises(ValueError):
        lab.render_shape(0, 10, 256)


def test_merge_keeps_lightness_even_for_out_of_gamut_ab():
    rng = np.random.default_rng(2)
    lum = rng.uniform(0, 100, (64, 64)).astype(np.float32)
    ab = rng.uniform(-110, 110, (64, 64, 2)).astype(np.float32)  # mostly out of gamut
    rgb = lab.merge_lab(lum, ab)
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert np.abs(lab.rgb_to_lab(rgb)[..., 0] - lum).max() < 0.6


def test_merge_leaves_in_gamut_colours_alone():
    rgb = np.random.default_rng(3).uniform(0.1, 0.9, (16, 16, 3)).astype(np.float32)
    lab_img = lab.rgb_to_lab(rgb)
    out = lab.merge_lab(lab_img[..., 0], lab_img[..., 1:])
    assert np.abs(out - rgb).max() < 0.005


def test_normalisation_round_trip():
    norm = lab.Normalisation()
    assert norm.encode_l(np.array([0.0, 50.0, 100.0])).tolist() == [-1.0, 0.0, 1.0]
    ab = np.array([-110.0, 0.0, 55.0], dtype=np.float32)
    assert np.allclose(norm.decode_ab(norm.encode_ab(ab)), ab)
    assert lab.Normalisation.from_dict(norm.to_dict()) == norm


def test_upsample_ab_is_bilinear_to_full_size():
    ab = np.zeros((8, 16, 2), np.float32)
    ab[..., 0] = 10
    up = lab.upsample_ab(ab, 37, 101)
    assert up.shape == (37, 101, 2)
    assert np.allclose(up[..., 0], 10)


@pytest.mark.parametrize(("small", "full"), [((8, 16), (37, 101)), ((32, 24), (1000, 750)), ((8, 8), (3, 5))])
def test_upsample_ab_equals_opencv_resize_for_any_band_of_rows(small, full):
    ab = np.random.default_rng(0).normal(0, 30, (*small, 2)).astype(np.float32)
    ref = cv2.resize(ab, full[::-1], interpolation=cv2.INTER_LINEAR)
    assert np.abs(lab.upsample_ab(ab, *full) - ref).max() < 1e-3
    rows = slice(full[0] // 3, full[0] // 3 + 7)
    assert np.abs(lab.upsample_ab(ab, *full, rows) - ref[rows]).max() < 1e-3


def test_guided_upsampling_puts_colour_edges_on_lightness_edges():
    """A red object on a blue ground, its edge between two network pixels: bilinear upsampling
    smears the colour across the edge; the guided filter's A * L + B puts it back on the edge."""
    import cv2

    from bwcolor.lab import guided_coefficients, heighten_ab, upsample_ab

    h, w, scale = 32, 32, 8
    full_l = np.full((h * scale, w * scale), 30.0, np.float32)
    full_l[:, 131:] = 70.0  # the object: brighter, its edge off the small grid
    truth_ab = np.zeros((h * scale, w * scale, 2), np.float32)
    truth_ab[:, :131] = (-10.0, -40.0)  # blue
    truth_ab[:, 131:] = (50.0, 30.0)  # red
    small_l = cv2.resize(full_l, (w, h), interpolation=cv2.INTER_AREA)
    small_ab = cv2.resize(truth_ab, (w, h), interpolation=cv2.INTER_AREA)
    plain = upsample_ab(small_ab, h * scale, w * scale)
    coef_a, coef_b = guided_coefficients(small_l, small_ab)
    guided = heighten_ab(coef_a, h * scale)
    guided = cv2.resize(guided, (w * scale, h * scale)) * full_l[..., None]
    guided += cv2.resize(heighten_ab(coef_b, h * scale), (w * scale, h * scale))
    near = slice(120, 142)  # the columns around the edge
    plain_error = np.abs(plain[:, near] - truth_ab[:, near]).mean()
    guided_error = np.abs(guided[:, near] - truth_ab[:, near]).mean()
    assert guided_error < 0.5 * plain_error
    flat = guided_coefficients(small_l, np.full((h, w, 2), 7.0, np.float32))  # one colour: A = 0, B = it
    np.testing.assert_allclose(flat[0], 0, atol=1e-4)
    np.testing.assert_allclose(flat[1], 7.0, atol=1e-3)
