"""A model version in words, for every edge (the dashboard's models page, `nowbot models list`):
its kind, the gate's verdict, the personas it speaks or the set it draws like, and each metric
with how to read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.registry import ModelVersion, VersionStatus

KIND_NAMES = {"text": "text model", "gan": "image model (GAN)", "draw": "draw model",
              "review": "review model"}
VERDICTS = {  # the gate's verdict for versions judged before it was stored with them
    VersionStatus.SERVING: "promoted: it passed the gate and serves now",
    VersionStatus.RETIRED: "served, then replaced by a better version",
    VersionStatus.REJECTED: "rejected by the gate: the serving version stayed",
    VersionStatus.CANDIDATE: "not judged yet",
}


@dataclass(frozen=True)
class Fact:
    """One metric in words: what it is, its value, and how to read it."""

    name: str
    value: str
    meaning: str = ""


@dataclass(frozen=True)
class Description:
    """What a person is told about a version."""

    kind_name: str  # "text model"
    verdict: str  # the gate's
    speaks: str  # "speaks as 2 personas: ada, bob", or "draws like the image set 'digits'"
    facts: list[Fact]


def describe(version: ModelVersion, personas: list[str]) -> Description:
    """`version` in words; `personas` are the corpus's, to say when one is no longer there."""
    metrics = version.metrics
    return Description(
        kind_name=KIND_NAMES.get(version.kind, version.kind), verdict=verdict(version),
        speaks=_speaks(version, personas),
        facts=FACTS.get(version.kind, _image_facts)(metrics),
    )


def verdict(version: ModelVersion) -> str:
    """The gate's verdict as stored with the version (or, for older ones, read off its status)."""
    return version.metrics.get("gate") or VERDICTS.get(VersionStatus(version.status), version.status)


def number(value: Any, digits: int = 3) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _text_facts(metrics: dict[str, Any]) -> list[Fact]:
    facts = []
    if "bpc" in metrics:
        facts.append(Fact(
            "held-out bits per character", number(metrics["bpc"]),
            "how surprised the model is, on average, by each character of posts it never trained "
            "on; lower is better (guessing among 64 characters at random would score 6.0). The "
            "gate promotes a version only if this is no worse than the serving one's."))
    if "gru_bpc" in metrics and "ngram_bpc" in metrics:
        facts.append(Fact("its two parts", f"network {number(metrics['gru_bpc'])}, "
                          f"n-gram {number(metrics['ngram_bpc'])}",
                          "the mixture of both writes the posts, and scores better than either"))
    per_persona = {key.split(":", 1)[1]: value for key, value in metrics.items() if key.startswith("bpc:")}
    if per_persona:
        facts.append(Fact("per persona", ", ".join(f"{name} {number(value)}"
                                                   for name, value in sorted(per_persona.items()))))
    if "steps" in metrics:
        work = f"{metrics['steps']:,} steps"
        if "epochs" in metrics:
            work += f", {metrics['epochs']:.2f} passes over {metrics.get('train_tweets', 0):,} posts"
        if "train_seconds" in metrics:
            work += f", {metrics['train_seconds'] / 60:.1f} min"
        if "chars_per_s" in metrics:
            work += f", {metrics['chars_per_s']:,.0f} characters/s"
        start, prior = metrics.get("finetuned_from"), metrics.get("prior")
        facts.append(Fact("training", work, f"fine-tuned from v{start}" if start
                          else f"from the English prior {prior}" if prior else "from scratch"))
    return facts


def _image_facts(metrics: dict[str, Any]) -> list[Fact]:
    facts = []
    if "fid" in metrics:
        facts.append(Fact(
            "Fréchet distance", number(metrics["fid"], 2),
            "how far the generated images' features are from real ones'; lower is better, and "
            "the gate promotes a version only if it is no worse than the serving one's"))
    if "diversity" in metrics:
        collapsed = " (mode collapse: vetoed)" if metrics.get("collapsed") else ""
        facts.append(Fact("variety", f"{metrics['diversity']:.2f} of the real images'{collapsed}",
                          "generated images as varied as the real ones score 1; a model that "
                          "draws the same few images over and over scores low and is vetoed"))
    if "steps" in metrics:
        seconds = metrics.get("seconds")
        facts.append(Fact("training", f"{metrics['steps']:,} steps"
                          + (f", {seconds / 60:.1f} min" if seconds else "")
                          + (f" on {metrics['images']:,} images" if "images" in metrics else "")))
    return facts


def _review_facts(metrics: dict[str, Any]) -> list[Fact]:
    facts = []
    if "decisions" in metrics:
        rate = metrics.get("approval_rate")
        facts.append(Fact("learned from", f"{metrics['decisions']:,} judged drafts"
                          + (f", {rate:.0%} approved" if rate is not None else ""),
                          "edits count as half an approval"))
    if "log_loss" in metrics:
        served = metrics.get("serving_log_loss")
        facts.append(Fact(
            "log loss on decisions it did not learn from",
            f"{number(metrics['log_loss'])} (chance {number(metrics['chance_log_loss'])}"
            + (f", serving {number(served)}" if served is not None else "") + ")",
            "how surprised it is by what reviewers decided; lower is better. The gate promotes "
            "a version only if it beats chance and is no worse than the serving one"))
    for name, key in (("reviewers approve more", "likes"), ("they approve less", "dislikes")):
        if metrics.get(key):
            facts.append(Fact(name, ", ".join(metrics[key])))
    return facts


FACTS = {"text": _text_facts, "review": _review_facts}


def _speaks(version: ModelVersion, personas: list[str]) -> str:
    if version.kind == "review":
        return f"learns what the reviewers of the campaign '{version.target}' approve"
    if version.kind != "text":
        return f"draws like the image set '{version.target}'"
    names = list(version.config.get("personas") or [version.target])
    if version.target == "all" or len(names) > 1:
        return f"speaks as {len(names)} personas: " + ", ".join(names)
    missing = "" if names[0] in personas else " (no longer in the corpus)"
    return f"speaks as {names[0]}{missing}"
