"""Datasets: one value type for every image source, found by name in one search order."""

from training.data.dataset import Dataset, DatasetError
from training.data.registry import (
    DEFAULT_DATASET,
    DataOptions,
    available_datasets,
    load_dataset,
    locate_dataset,
    prepare_image,
    relative_paths,
)

__all__ = [
    "DEFAULT_DATASET",
    "DataOptions",
    "Dataset",
    "DatasetError",
    "available_datasets",
    "load_dataset",
    "locate_dataset",
    "prepare_image",
    "relative_paths",
]
