import math

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from bwcolor import metrics


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_ssim_matches_scikit_image(pair):
    a, b = pair
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
    )
    assert metrics.ssim(a, b) == pytest.approx(ref, abs=1e-9)
    assert metrics.ssim(a, a) == pytest.approx(1.0)


def test_psnr_matches_scikit_image_and_is_infinite_for_identical_images(pair):
    a, b = pair
    assert metrics.psnr(b, a) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255))
    assert metrics.psnr(a, a) == math.inf


def test_mse_by_hand():
    a = np.zeros((2, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert metrics.mse_rgb(a, b) == pytest.approx(1 / 12)
    la, lb = np.zeros((1, 2, 3)), np.zeros((1, 2, 3))
    lb[0, 0, 1], lb[0, 1, 2] = 3, 4
    assert metrics.mse_ab(la, lb) == pytest.approx((9 + 16) / 4)


def test_ciede2000_matches_scikit_image(pair):
    a, b = pair
    la, lb = rgb2lab(a), rgb2lab(b)
    assert np.allclose(metrics.ciede2000(la, lb), deltaE_ciede2000(la, lb), atol=1e-9)


def test_ciede2000_sharma_reference_pair():
    # Pair 1 of Sharma, Wu and Dalal (2005): 2.0425
    lab1 = np.array([[[50.0, 2.6772, -79.7751]]])
    lab2 = np.array([[[50.0, 0.0, -82.7485]]])
    assert metrics.ciede2000(lab1, lab2)[0, 0] == pytest.approx(2.0425, abs=1e-4)


def test_colourfulness():
    gray = np.full((8, 8, 3), 128, np.uint8)
    assert metrics.colourfulness(gray) == 0
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5 everywhere: no spread, so 0.3 * |mean|
    assert metrics.colourfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))


def test_different_sizes_are_an_error_not_a_resize(pair):
    a, _ = pair
    with pytest.raises(ValueError, match="differ in size"):
        metrics.psnr(a, a[:-1])


def test_means_keep_psnr_finite():
    rows = [{"psnr": math.inf, "ssim": 1.0}, {"psnr": 30.0, "ssim": 0.5}]
    m = metrics.mean_metrics(rows)
    assert m["psnr"] == 30.0 and m["psnr_infinite"] == 1 and m["ssim"] == 0.75


def test_vivid_wrong_counts_far_saturated_and_oversaturated_pixels_as_skimage_measures_them():
    """Four quarters: truth gray, prediction vivid red (counted); truth a dull blue, prediction
    vivid orange (counted); truth vivid red, prediction a slightly different vivid red (close:
    not counted); truth vivid green, prediction gray (wrong but not vivid: not counted)."""
    true = np.zeros((8, 8, 3), np.uint8)
    pred = np.zeros((8, 8, 3), np.uint8)
    true[:4, :4], pred[:4, :4] = (128, 128, 128), (220, 40, 40)
    true[:4, 4:], pred[:4, 4:] = (100, 110, 130), (240, 140, 20)
    true[4:, :4], pred[4:, :4] = (210, 30, 30), (220, 40, 40)
    true[4:, 4:], pred[4:, 4:] = (30, 200, 40), (128, 128, 128)
    tl, pl = rgb2lab(true / 255.0), rgb2lab(pred / 255.0)
    delta = deltaE_ciede2000(tl, pl)
    chroma_p, chroma_t = np.hypot(pl[..., 1], pl[..., 2]), np.hypot(tl[..., 1], tl[..., 2])
    reference = 100 * np.mean((delta > 20) & (chroma_p > 20) & (chroma_p - chroma_t > 10))
    row = metrics.image_metrics(pred, true)
    assert reference == 50.0 and row["vivid_wrong"] == pytest.approx(reference)
    assert row["vivid_wrong_photos"] == 1.0
    assert metrics.image_metrics(true, true)["vivid_wrong"] == 0.0
