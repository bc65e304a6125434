"""Long-term knowledge: export SFT data from the annotated corpus and train LoRA adapters."""

from llm4tag.finetune.export import ExportReport, export_sft

__all__ = ["ExportReport", "export_sft"]
