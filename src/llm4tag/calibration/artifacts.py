"""What ``calibrate`` and ``optimize`` leave in a project's ``calibration/`` folder, loaded for the pipeline.

* ``recall.pkl``: the recall-only calibrator (candidate features -> P(tag is right));
* ``judge.pkl``: combines the recall-only confidence with the LLM judge's P(Yes);
* ``judge-zero-shot.pkl``: the judge's P(Yes) alone, for tags with too few examples to have recall evidence;
* ``settings-<shape>.json``: threshold, tag limit and routing band per pipeline shape (``pipeline_shape``):
  what suits recall-only scores does not suit judged ones;
* ``llm-decision.json``: whether the LLM stages pay on this project's held-out contents (``decision.py``).

Each file is read once and again only when it changes on disk.

``manifest.json`` names the set a finished ``calibrate`` or ``optimize`` left (each file's sha256); it is
written last, atomically. A file that differs from it, or is not in it, is a set that a killed or failed run
left half-written: it is refused with one line rather than used beside files fitted under other settings.
A folder without a manifest (written by an earlier llm4tag) is used as it is until the next run writes one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llm4tag.calibration.calibrator import Calibrator
from llm4tag.calibration.confidence import ConfidenceSettings, pipeline_shape
from llm4tag.calibration.decision import LLMDecision
from llm4tag.calibration.pruning import Pruning
from llm4tag.errors import ProjectError
from llm4tag.fileio import atomic_write, sha256_of

RECALL_CALIBRATOR = "recall.pkl"
JUDGE_CALIBRATOR = "judge.pkl"
LLM_DECISION = "llm-decision.json"
ZERO_SHOT_CALIBRATOR = "judge-zero-shot.pkl"
MANIFEST = "manifest.json"


def settings_name(judge: str, generation: bool) -> str:
    return f"settings-{pipeline_shape(judge, generation)}.json"


class CalibrationArtifacts:
    """The fitted models and chosen settings of one project."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._loaded: dict[str, tuple[int, Any]] = {}
        self._checked: tuple | None = None  # the stamp() of the set last found whole
        self._writing = 0  # inside writing(): this process's own run reads what it has just written

    def _files(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.is_file() and not p.name.startswith(".")
                          and p.name != MANIFEST)  # fmt: skip
        except FileNotFoundError:
            return []

    def _write_manifest(self) -> None:
        files = {path.name: sha256_of(path) for path in self._files()}
        with atomic_write(self.directory / MANIFEST) as handle:
            json.dump({"format": 1, "files": files}, handle, indent=2, sort_keys=True)

    def check_whole(self) -> None:
        """Raise a :class:`ProjectError` (one line) when the files are not the set the manifest names."""
        stamp = self.stamp()
        if stamp == self._checked or self._writing:
            return
        manifest = self.directory / MANIFEST
        if manifest.exists():
            try:
                listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
            except (ValueError, KeyError, TypeError):
                listed = None
            present = {path.name: path for path in self._files()}
            if listed is None:
                differ = [MANIFEST]
            else:
                differ = sorted(set(listed) ^ set(present))
                differ += sorted(n for n in set(listed) & set(present) if sha256_of(present[n]) != listed[n])
            if differ:
                raise ProjectError(
                    f"{self.directory}: {', '.join(differ)} differ from the set the last calibrate or optimize"
                    " wrote (a run that did not finish, or a damaged file); run 'llm4tag calibrate' and"
                    " 'llm4tag optimize' again"
                )
        self._checked = stamp

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around one ``calibrate`` or ``optimize``: the new set counts as whole only once it all is written."""
        if self._files() and not (self.directory / MANIFEST).exists():
            self._write_manifest()  # the set before this run, so that a run killed midway is caught
        self._writing += 1
        try:
            yield
        finally:
            self._writing -= 1
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_manifest()
        self._checked = None

    def _load(self, name: str, loader: Callable[[Path], Any]) -> Any:
        try:
            self.check_whole()
        except ProjectError:
            if name in self._loaded:  # another process is writing a new set: keep the whole one loaded here
                return self._loaded[name][1]
            raise
        path = self.directory / name
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        cached = self._loaded.get(name)
        if cached is None or cached[0] != stamp:
            try:
                cached = (stamp, loader(path))
            except Exception as exc:  # noqa: BLE001 - truncated, corrupted or foreign file
                raise ProjectError(
                    f"{path} is unreadable ({exc.__class__.__name__}: {exc}); run 'llm4tag calibrate' and"
                    " 'llm4tag optimize' again to rewrite it, or delete it to go without it"
                ) from None
            self._loaded[name] = cached
        return cached[1]

    def stamp(self) -> tuple:
        """Changes whenever a file here is written: pipelines built from older files are rebuilt."""
        try:
            return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self.directory.iterdir()))
        except FileNotFoundError:
            return ()

    def recall_calibrator(self) -> Calibrator | None:
        return self._load(RECALL_CALIBRATOR, Calibrator.load)

    def judge_calibrator(self) -> Calibrator | None:
        return self._load(JUDGE_CALIBRATOR, Calibrator.load)

    def zero_shot_calibrator(self) -> Calibrator | None:
        return self._load(ZERO_SHOT_CALIBRATOR, Calibrator.load)

    def settings(self, judge: str, generation: bool) -> ConfidenceSettings | None:
        name = settings_name(judge, generation)
        if judge == "few-examples" and not (self.directory / name).exists():  # written when the mode was "thin"
            name = settings_name("thin", generation)
        return self._load(name, ConfidenceSettings.load)

    def llm_decision(self) -> LLMDecision | None:
        return self._load(LLM_DECISION, LLMDecision.load)

    def llm_choice(self, judge: str, generation: bool) -> tuple[str, bool] | None:
        """The LLM stages (judge mode, generation) that ``optimize`` found to pay for the offered pipeline shape
        (``judge``, ``generation``) on held-out contents; None: recall only (not measured, or no gain)."""
        decision = self.llm_decision()
        if decision is None or not decision.use_llm or decision.shape != pipeline_shape(judge, generation):
            return None
        return decision.judge, decision.generation

    def save_llm_decision(self, decision: LLMDecision) -> Path:
        path = self.directory / LLM_DECISION
        decision.save(path)
        return path

    def save_recall_calibrator(self, calibrator: Calibrator) -> None:
        calibrator.save(self.directory / RECALL_CALIBRATOR)

    def save_judge_calibrator(self, calibrator: Calibrator) -> None:
        calibrator.save(self.directory / JUDGE_CALIBRATOR)

    def save_zero_shot_calibrator(self, calibrator: Calibrator) -> None:
        calibrator.save(self.directory / ZERO_SHOT_CALIBRATOR)

    def save_settings(self, settings: ConfidenceSettings, judge: str, generation: bool) -> Path:
        path = self.directory / settings_name(judge, generation)
        settings.save(path)
        return path

    def pruning(self, judge: str, generation: bool, *, generation_max_tags: int) -> Pruning:
        """How final tag sets are cut: as ``optimize`` chose, else a plain default."""
        settings = self.settings(judge, generation)
        if settings is not None:
            return settings.pruning
        if generation and judge != "candidates":
            return Pruning(0.0, generation_max_tags)  # the LLM's picks, as they are
        if self.recall_calibrator() is None:
            return Pruning(0.0, generation_max_tags)  # scores are not probabilities yet: the top few
        return Pruning(0.0, 10, "expected_f1")  # calibrated: the set with the best expected F1
