"""CelebA and folders of images: real data, generated folders, the cache, and bad input."""

from __future__ import annotations

import io
import logging
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile

from training.data import DataOptions, celeba, folders, load_dataset, prepare_image
from training.data.dataset import Dataset, DatasetError, cache_dir, seeded_test_mask
from training.data.imagefiles import decode_image_bytes
from training.data.registry import relative_paths

# fmt: off
CELEBA_NAMES = [
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
]
# fmt: on
SMILING = CELEBA_NAMES.index("Smiling")


def leftovers() -> list[Path]:
    """Everything in the cache folder: after a failed load there must be nothing."""
    return list(cache_dir().glob("*"))


def solid(path: Path, colour, size=(20, 16)) -> Path:
    """Write a one-colour image (format from the suffix) and return its path."""
    Image.new("RGB", size, colour).save(path)
    return path


def make_celeba(root: Path, values: np.ndarray, folder="img_align_celeba", size=(178, 218)) -> Path:
    """A CelebA layout in root: one JPEG per row of values (N, 40) in {-1, 1}, CRLF table."""
    (root / folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for i, row in enumerate(values, start=1):
        solid(root / folder / f"{i:06d}.jpg", (i * 40 % 256, 90, 160), size)
        rows.append(f"{i:06d}.jpg " + " ".join(f"{v:2d}" for v in row))
    lines = [str(len(values)), " ".join(CELEBA_NAMES) + " ", *rows]
    (root / "list_attr_celeba.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return root


def celeba_values(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).choice([-1, 1], size=(n, 40))


# --- real CelebA subset ------------------------------------------------------------------------


@pytest.mark.shared_data("celeba_subset")
def test_celeba_subset_gives_square_faces_with_40_binary_attributes(shared_data):
    root = shared_data / "celeba_subset"
    data = celeba.load_celeba(root, DataOptions(limit=300))
    assert data.pixels.shape == (300, 3, 64, 64) and data.pixels.dtype == np.uint8
    assert data.attribute_names == tuple(CELEBA_NAMES)
    assert data.attributes.dtype == np.uint8 and set(np.unique(data.attributes)) == {0, 1}
    # The table itself, read independently: row i's -1/1 values are the attributes 0/1.
    rows = (root / "list_attr_celeba.txt").read_text().splitlines()[2:302]
    expected = np.array([[int(v) for v in row.split()[1:]] for row in rows]) == 1
    assert np.array_equal(data.attributes, expected)
    assert data.labels is None and data.test_mask.sum() == 30


@pytest.mark.shared_data("celeba_subset")
def test_celeba_is_located_through_its_renamed_image_folder(shared_data):
    assert celeba.locate_celeba(shared_data / "celeba_subset") == str(shared_data / "celeba_subset")


@pytest.mark.shared_data("celeba_subset")
def test_celeba_reloads_from_the_cache_without_decoding(shared_data, monkeypatch):
    first = celeba.load_celeba(shared_data / "celeba_subset", DataOptions(limit=50, image_size=32))
    assert [p.name.startswith("celeba-") for p in leftovers()] == [True]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(celeba, "decode_images", no_decoding)
    again = celeba.load_celeba(shared_data / "celeba_subset", DataOptions(limit=50, image_size=32))
    assert again.pixels.shape == (50, 3, 32, 32)
    assert np.array_equal(again.pixels, first.pixels)
    assert np.array_equal(again.attributes, first.attributes)
    assert again.attribute_names == first.attribute_names


@pytest.mark.slow
@pytest.mark.shared_data("celeba_subset")
def test_whole_celeba_subset_has_the_published_attribute_counts(shared_data):
    data = celeba.load_celeba(shared_data / "celeba_subset", DataOptions())
    assert data.pixels.shape == (10_000, 3, 64, 64)
    counts = dict(zip(data.attribute_names, data.attributes.sum(axis=0).tolist(), strict=True))
    # SOURCE.txt: Smiling 4,822; Male 4,217; Young 7,771; Eyeglasses 674.
    assert (counts["Smiling"], counts["Male"], counts["Young"], counts["Eyeglasses"]) == (
        4822,
        4217,
        7771,
        674,
    )
    again = celeba.load_celeba(shared_data / "celeba_subset", DataOptions())
    assert np.array_equal(again.pixels, data.pixels)


# --- generated CelebA layouts ------------------------------------------------------------------


def test_generated_celeba_maps_minus_one_to_zero_and_crops_the_face_square(tmp_path):
    values = celeba_values(3)
    data = celeba.load_celeba(make_celeba(tmp_path, values), DataOptions(image_size=16))
    assert data.pixels.shape == (3, 3, 16, 16)
    assert np.array_equal(data.attributes, (values == 1).astype(np.uint8))
    # A solid JPEG stays (nearly) that colour after draft decoding, crop and resize.
    assert np.allclose(data.pixels[1, :, 8, 8], [80, 90, 160], atol=3)


def test_celeba_crop_is_the_centred_140_px_square_of_a_178x218_image():
    assert celeba.celeba_crop(178, 218) == (19.0, 39.0, 159.0, 179.0)
    assert celeba.celeba_crop(89, 109) == (9.5, 19.5, 79.5, 89.5)


def test_a_renamed_image_folder_is_used_when_it_alone_holds_every_listed_file(tmp_path):
    make_celeba(tmp_path, celeba_values(3), folder="img_align_celeba_small")
    (tmp_path / "img_align_celeba_partial").mkdir()
    solid(tmp_path / "img_align_celeba_partial" / "000001.jpg", (0, 0, 0))
    assert celeba.load_celeba(tmp_path, DataOptions(limit=2)).n_samples == 2


def test_celeba_needs_a_data_dir():
    assert celeba.locate_celeba(None) is None
    with pytest.raises(DatasetError, match="never downloaded.*pass --data-dir"):
        celeba.load_celeba(None, DataOptions())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("short row", r"list_attr_celeba.txt: line 4 has 39 values, expected 40"),
        ("bad value", r"list_attr_celeba.txt: line 3, column Smiling: '2' is not -1 or 1"),
        ("wrong count", r"list_attr_celeba.txt: line 1 says 9 images, the table has 3"),
        ("missing image", r"1 of the 3 files it lists are missing from .*img_align_celeba: 000003"),
        ("truncated", r"000002.jpg: unreadable image"),  # CelebA skips none: rows are attributes
        ("no table", r"list_attr_celeba.txt: missing"),
        ("no images", r"img_align_celeba: missing"),
        ("two folders", r"several folders hold the images"),
    ],
)
def test_a_broken_celeba_layout_is_named_and_caches_nothing(tmp_path, damage, message):
    root = make_celeba(tmp_path, celeba_values(3))
    table = root / "list_attr_celeba.txt"
    lines = table.read_text().splitlines()
    if damage == "short row":
        lines[3] = lines[3].rsplit(" ", 1)[0]
    elif damage == "bad value":
        cells = lines[2].split()
        cells[1 + SMILING] = "2"
        lines[2] = " ".join(cells)
    elif damage == "wrong count":
        lines[0] = "9"
    elif damage == "missing image":
        (root / "img_align_celeba" / "000003.jpg").unlink()
    elif damage == "truncated":
        truncated_jpeg(root / "img_align_celeba" / "000002.jpg")
    elif damage == "no table":
        table.unlink()
    elif damage == "no images":
        (root / "img_align_celeba").rename(root / "faces")
    elif damage == "two folders":
        (root / "img_align_celeba").rename(root / "img_align_celeba_a")
        make_celeba(root, celeba_values(3), folder="img_align_celeba_b")
    if table.exists() and damage != "two folders":
        table.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=message):
        celeba.load_celeba(root, DataOptions())
    assert leftovers() == []


# --- folders of images -------------------------------------------------------------------------


def test_a_folder_loads_its_images_sorted_by_name_as_rgb_squares(tmp_path):
    solid(tmp_path / "c.png", (0, 0, 255))
    solid(tmp_path / "a.PNG", (255, 0, 0))
    solid(tmp_path / "b.jpeg", (0, 255, 0))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    solid(tmp_path / "sub" / "d.png", (9, 9, 9))  # not recursive
    data = folders.load_folder(tmp_path, DataOptions())
    assert data.pixels.shape == (3, 3, 64, 64)
    assert np.allclose(data.pixels[:, :, 32, 32], 255 * np.eye(3), atol=2)  # red, green, blue
    assert data.labels is None and data.attributes is None
    assert np.array_equal(data.test_mask, seeded_test_mask(3))
    assert folders.locate_folder(tmp_path) == str(tmp_path)


def test_a_folder_image_is_centre_cropped_to_a_square_before_resizing(tmp_path):
    x = np.zeros((10, 30, 3), np.uint8)
    x[:] = (255, 0, 0)
    x[:, 10:20] = (0, 255, 0)  # only the centre square is green, the sides red
    Image.fromarray(x).save(tmp_path / "wide.png")
    data = folders.load_folder(tmp_path, DataOptions(image_size=8))
    red, green, blue = data.floats(0)
    # Lanczos reads a little past the crop's edges, so the border columns are only nearly green.
    assert red.max() < 0.1 and green.min() > 0.9 and blue.max() == 0.0
    assert np.all(green[:, 1:-1] == 1.0)


def test_grey_gives_one_channel_of_pillows_luma(tmp_path):
    solid(tmp_path / "a.png", (200, 100, 50))
    data = folders.load_folder(tmp_path, DataOptions(grey=True, image_size=4))
    luma = Image.new("RGB", (1, 1), (200, 100, 50)).convert("L").getpixel((0, 0))
    assert data.pixels.shape == (1, 1, 4, 4)
    assert np.all(data.pixels == luma)


def test_attributes_csv_is_read_in_image_order_with_any_binary_spelling(tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        solid(tmp_path / name, (1, 2, 3))
    (tmp_path / "attributes.csv").write_text(
        "smiling,filename,glasses\r\n1,c.png,TRUE\r\n-1,a.png,false\r\n0,b.png,true\r\n"
    )
    data = folders.load_folder(tmp_path, DataOptions(limit=2))
    assert data.attribute_names == ("smiling", "glasses")
    assert data.attributes.tolist() == [[0, 0], [0, 1]]


def test_a_csv_elsewhere_without_a_file_header_uses_its_first_column(tmp_path):
    solid(tmp_path / "a.png", (1, 2, 3))
    solid(tmp_path / "b.png", (1, 2, 3))
    csv = tmp_path.parent / "labels.csv"
    csv.write_text("name,Smiling\nb.png,1\na.png,0\n")
    data = load_dataset("folder", tmp_path, DataOptions(attributes_csv=str(csv)))
    assert data.attribute_names == ("Smiling",) and data.attributes.tolist() == [[0], [1]]


def test_a_changed_image_is_decoded_again_not_served_from_the_cache(tmp_path):
    solid(tmp_path / "a.png", (255, 0, 0))
    assert folders.load_folder(tmp_path, DataOptions(image_size=4)).pixels[0, 0, 0, 0] == 255
    solid(tmp_path / "a.png", (0, 0, 255), size=(20, 17))
    assert folders.load_folder(tmp_path, DataOptions(image_size=4)).pixels[0, 0, 0, 0] == 0
    assert len(leftovers()) == 2


def test_a_folder_reports_progress_while_decoding_and_reloads_from_the_cache(tmp_path, monkeypatch):
    for i in range(5):
        solid(tmp_path / f"{i}.png", (i, 2, 3))
    calls = []
    first = load_dataset("folder", tmp_path, DataOptions(image_size=4), lambda *c: calls.append(c))
    assert calls[-1] == (5, 5) and calls == sorted(calls) and len(calls) <= 5
    decode = folders.decode_images

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(folders, "decode_images", no_decoding)
    calls.clear()
    again = load_dataset("folder", tmp_path, DataOptions(image_size=4), lambda *c: calls.append(c))
    assert calls == [] and np.array_equal(again.pixels, first.pixels)
    # A new file changes the cache key: the folder is decoded again, all 6 images.
    monkeypatch.setattr(folders, "decode_images", decode)
    solid(tmp_path / "5.png", (9, 9, 9))
    grown = load_dataset("folder", tmp_path, DataOptions(image_size=4), lambda *c: calls.append(c))
    assert grown.n_samples == 6 and calls[-1] == (6, 6)


def png_claiming(path: Path, w: int, h: int) -> Path:
    """A tiny PNG whose header claims w x h pixels: decoding it would fail, reading its size not."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", w, h) + data[24:29]
    data[16:33] = ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(bytes(data))
    return path


# Header sizes past our limits (4096 px a side, 16 MP), and past twice Pillow's own bomb limit.
HUGE = {"too wide": (5000, 10), "too many pixels": (4000, 4001), "bomb": (20_000, 20_000)}


def truncated_jpeg(path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:-300])


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("corrupt", r"b.png: unreadable image \(not a PNG or JPEG file\)"),
        ("truncated", r"b.jpg: unreadable image \((?i:.*truncated)"),
        ("too wide", r"b.png: 5000x10 px is too large"),
        ("too many pixels", r"b.png: 4000x4001 px is too large"),
        ("bomb", r"b.png: too large"),
    ],
)
def test_an_unreadable_image_is_skipped_counted_and_named_in_the_log(
    tmp_path, caplog, damage, reason
):
    solid(tmp_path / "a.png", (1, 2, 3))
    if damage == "corrupt":
        (tmp_path / "b.png").write_bytes(b"\x89PNG not really")
    elif damage == "truncated":
        truncated_jpeg(tmp_path / "b.jpg")
    else:  # headers that claim a huge image: rejected before any pixel is decoded
        png_claiming(tmp_path / "b.png", *HUGE[damage])
    with caplog.at_level(logging.WARNING, logger=folders.log.name):
        data = folders.load_folder(tmp_path, DataOptions())
    assert data.n_samples == 1
    assert data.description.endswith(
        " 1 of 2 files could not be read: skipped; the list is in the server log."
    )
    [record] = caplog.records
    assert re.search(reason, record.getMessage())
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_folder_whose_every_image_is_unreadable_is_an_error_and_caches_nothing(tmp_path):
    truncated_jpeg(tmp_path / "a.jpg")
    (tmp_path / "b.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetError, match=r"no image could be read \(2 tried; the first: .*a.jpg"):
        folders.load_folder(tmp_path, DataOptions())
    assert leftovers() == []


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("file,smiling\na.png,1\n", r"attributes.csv: no row for 1 images: b.png"),
        ("file,smiling\na.png,1\nb.png,0\nz.png,1\n", r"rows for 1 files not in .*: z.png"),
        ("file,smiling\na.png,1\nb.png,maybe\n", r"row 3, column smiling: 'maybe' is not binary"),
        ("file,smiling\na.png\nb.png,0\n", r"attributes.csv: row 2 has 1 columns, the header 2"),
        ("file,smiling\na.png,1\nb.png,0\na.png,0\n", r"row 4: a.png is listed twice"),
        ("file\na.png\nb.png\n", r"the header needs a file column and uniquely named attributes"),
        ("", r"attributes.csv: empty"),
    ],
)
def test_a_bad_attributes_csv_is_named_and_caches_nothing(tmp_path, csv, message):
    solid(tmp_path / "a.png", (1, 2, 3))
    solid(tmp_path / "b.png", (1, 2, 3))
    (tmp_path / "attributes.csv").write_text(csv)
    with pytest.raises(DatasetError, match=message):
        folders.load_folder(tmp_path, DataOptions())
    assert leftovers() == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [("absent", r"absent: no such folder"), ("empty", r"empty: no images in this folder")],
)
def test_a_missing_or_empty_folder_is_named(tmp_path, setup, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    assert folders.locate_folder(tmp_path / setup) is None
    with pytest.raises(DatasetError, match=message):
        folders.load_folder(tmp_path / setup, DataOptions())


def test_a_named_attributes_csv_that_is_absent_is_an_error(tmp_path):
    solid(tmp_path / "a.png", (1, 2, 3))
    with pytest.raises(DatasetError, match=r"nope.csv: missing \(the attributes CSV\)"):
        folders.load_folder(tmp_path, DataOptions(attributes_csv=str(tmp_path / "nope.csv")))


def green_centre(path: Path, w: int, h: int) -> Path:
    """A w x h image whose centred square is green and the rest red."""
    x = np.zeros((h, w, 3), np.uint8)
    x[:] = (255, 0, 0)
    side = min(w, h)
    x[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2] = (0, 255, 0)
    Image.fromarray(x).save(path)
    return path


def test_a_folder_of_mixed_sizes_comes_out_one_size_each_centre_cropped(tmp_path):
    for name, (w, h) in {
        "wide.png": (60, 20),
        "tall.png": (24, 96),
        "tiny.png": (5, 5),
        "big.jpg": (400, 240),
        "square.png": (64, 64),
    }.items():
        green_centre(tmp_path / name, w, h)
    data = folders.load_folder(tmp_path, DataOptions(image_size=8))
    assert data.pixels.shape == (5, 3, 8, 8)
    red, green, blue = data.floats()[:, :, 1:-1, 1:-1].transpose(1, 0, 2, 3)  # inner 6x6
    # Only the centred square is kept: no red sides (Lanczos reads a little past the crop's edges,
    # hence the inner pixels; JPEG blurs its colours a little).
    assert red.max() < 0.1 and green.min() > 0.9 and blue.max() < 0.1


def test_unreadable_files_are_skipped_with_their_attributes_and_listed_once_per_process(
    tmp_path, caplog, monkeypatch
):
    for i in range(12):
        solid(tmp_path / f"{i:02d}.png", (i * 20, 0, 0), (20 + i, 16))  # sizes differ too
    for i in (3, 7, 8):
        truncated_jpeg(tmp_path / f"{i:02d}.png")  # a JPEG with the wrong suffix, cut short
    rows = "".join(f"{i:02d}.png,{i % 2}\n" for i in range(12))
    (tmp_path / "attributes.csv").write_text("file,odd\n" + rows)
    monkeypatch.setattr(folders, "_logged", set())
    # Decoded, then read from the cache by the same process, then by a new one (a restart).
    for load, logged in (("decoded", 1), ("cached", 0), ("restart", 1)):
        if load == "restart":
            monkeypatch.setattr(folders, "_logged", set())
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=folders.log.name):
            data = load_dataset("folder", tmp_path, DataOptions(image_size=4))
        assert data.description == (
            "9 images from " + tmp_path.name + "/, 4x4 RGB, 1 attributes. 3 of 12 files could not "
            "be read: skipped; the list is in the server log."
        )
        kept = [i for i in range(12) if i not in (3, 7, 8)]
        assert data.pixels[:, 0, 0, 0].tolist() == [i * 20 for i in kept]
        assert data.attributes[:, 0].tolist() == [i % 2 for i in kept]  # still each image's own
        assert len(caplog.records) == logged, load
        for record in caplog.records:
            assert [f"{i:02d}.png" in record.getMessage() for i in range(12)] == [
                i in (3, 7, 8) for i in range(12)
            ]


def test_a_data_folder_holds_its_own_images_in_a_folder_subfolder(tmp_path):
    (tmp_path / "folder").mkdir()
    solid(tmp_path / "folder" / "a.png", (9, 0, 0))
    (tmp_path / "mnist").mkdir()
    assert load_dataset("folder", tmp_path).source == folders.locate_folder(tmp_path)
    assert folders.locate_folder(tmp_path) == str(tmp_path / "folder")
    solid(tmp_path / "top.png", (0, 9, 0))  # images in the data folder itself come first
    assert folders.locate_folder(tmp_path) == str(tmp_path)


def test_errors_name_files_relative_to_the_data_folder_never_its_server_path(tmp_path):
    data_dir = tmp_path / "server" / "data"
    (data_dir / "folder").mkdir(parents=True)
    truncated_jpeg(data_dir / "folder" / "only.jpg")
    (data_dir / "celeba").mkdir()
    (data_dir / "celeba" / "list_attr_celeba.txt").write_text("1\nSmiling\n")
    errors = {}
    for name in ("folder", "celeba", "mnist"):
        with pytest.raises(DatasetError) as e:
            load_dataset(name, data_dir)
        errors[name] = str(e.value)
    assert errors["folder"].startswith(
        "folder: no image could be read (1 tried; the first: folder/only.jpg: unreadable image"
    )
    assert errors["celeba"].startswith("celeba/img_align_celeba: missing")
    assert "looked in the data folder, celeba, celeba_subset" in errors["celeba"]
    assert errors["mnist"].startswith("train-images-idx3-ubyte(.gz): missing")
    assert "looked in the data folder, mnist, " in errors["mnist"]
    assert not any(str(tmp_path) in e for e in errors.values()), errors


def test_only_whole_paths_inside_the_data_folder_are_made_relative():
    text = "/srv/data/folder/a.jpg: bad; /srv/data: empty; /srv/data2/b.png; my/srv/data/c.png"
    assert relative_paths(text, Path("/srv/data")) == (
        "folder/a.jpg: bad; the data folder: empty; /srv/data2/b.png; my/srv/data/c.png"
    )
    assert relative_paths("a.png: bad. (.png)", Path(".")) == "a.png: bad. (.png)"


# --- an uploaded image, prepared like a dataset's images ----------------------------------------


def image_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def dataset_like(name: str, shape=(3, 16, 16), background: float = 0.0) -> Dataset:
    x = np.full((4, *shape), round(background * 255), dtype=np.uint8)
    return Dataset(name=name, pixels=x, test_mask=np.zeros(4, bool), description="test")


def test_an_upload_for_celeba_is_cut_to_celebas_face_square():
    photo = Image.new("RGB", (178, 218), (255, 0, 0))  # red outside the face square
    photo.paste((0, 0, 255), (19, 39, 159, 179))  # the centred 140 px square: blue
    x = prepare_image(image_bytes(photo), dataset_like("celeba"))
    assert x.shape == (3, 16, 16) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 1:-1, 1:-1].mean((1, 2)), [0, 0, 1], atol=0.02)


def test_an_upload_for_other_data_is_centre_cropped_and_resized_as_jpeg_too():
    wide = Image.new("RGB", (300, 100), (0, 255, 0))
    wide.paste((255, 255, 255), (100, 0, 200, 100))  # the centred square: white
    for fmt in ("PNG", "JPEG"):
        x = prepare_image(image_bytes(wide, fmt), dataset_like("faces"))
        assert x.min() > 0.9, fmt  # no green from the sides


def test_dark_ink_on_paper_is_inverted_for_light_on_dark_digits_but_colour_is_not():
    drawing = Image.new("L", (80, 80), 255)
    drawing.paste(0, (30, 10, 50, 70))  # a dark stroke
    digit = prepare_image(image_bytes(drawing), dataset_like("digits", (1, 8, 8)))
    assert digit.shape == (1, 8, 8)
    assert digit[0, 0, 0] < 0.05 and digit[0, 4, 4] > 0.9  # background dark, stroke bright
    as_is = prepare_image(image_bytes(drawing), dataset_like("paper", (1, 8, 8), background=1.0))
    assert as_is[0, 0, 0] > 0.95  # the data is dark on light too: left alone
    colour = prepare_image(image_bytes(drawing.convert("RGB")), dataset_like("faces"))
    assert colour[:, 0, 0].min() > 0.95  # never inverted: photos keep their colours


def test_a_bad_upload_is_refused_by_name(tmp_path):
    with pytest.raises(DatasetError, match=r"^me.png: unreadable image \(not a PNG or JPEG"):
        prepare_image(b"not an image", dataset_like("faces"), "me.png")
    huge = png_claiming(tmp_path / "huge.png", 9000, 9000).read_bytes()
    with pytest.raises(DatasetError, match="me.png: 9000x9000 px is too large"):
        prepare_image(huge, dataset_like("faces"), "me.png")


# --- EXIF orientation: a phone photo stored on its side ------------------------------------------


def jpeg_bytes(x: np.ndarray, orientation: int | None = None) -> bytes:
    """x (H, W) grey as a JPEG at quality 100, with an EXIF Orientation tag if given."""
    image, buffer = Image.fromarray(x), io.BytesIO()
    exif = image.getexif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    image.save(buffer, "JPEG", quality=100, exif=exif)
    return buffer.getvalue()


def portrait() -> np.ndarray:
    """(128, 96) uint8: white with a dark bar near the top left, in flat 8x8 blocks (JPEG at
    quality 100 keeps a flat block exactly, so decodes can be compared bit for bit)."""
    x = np.full((128, 96), 255, np.uint8)
    x[16:48, 0:64] = 0
    return x


def test_a_photo_tagged_orientation_6_is_decoded_upright():
    upright = portrait()
    # Orientation 6: "turn 90 degrees clockwise to view", so the file holds it turned the other way.
    tagged = jpeg_bytes(np.rot90(upright), orientation=6)
    x = decode_image_bytes(tagged, 96, grey=True)[0]
    assert np.array_equal(x, upright[16:112])  # the upright picture's centred square
    assert not np.array_equal(decode_image_bytes(jpeg_bytes(np.rot90(upright)), 96, True)[0], x)
    # At a smaller size too, where libjpeg decodes at a reduced scale first.
    small = decode_image_bytes(jpeg_bytes(upright), 8, grey=True)
    assert np.array_equal(decode_image_bytes(tagged, 8, grey=True), small)


def test_a_folder_photo_tagged_orientation_6_is_loaded_upright(tmp_path):
    (tmp_path / "phone.jpg").write_bytes(jpeg_bytes(np.rot90(portrait()), orientation=6))
    data = folders.load_folder(tmp_path, DataOptions(image_size=96, grey=True))
    assert np.array_equal(data.pixels[0, 0], portrait()[16:112])
