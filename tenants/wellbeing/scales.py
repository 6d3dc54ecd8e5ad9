"""The two wellbeing scales, with their published wording and scoring.

**ONS4** — the Office for National Statistics' four personal well-being
questions, each answered on a scale from 0 ("not at all") to 10
("completely"). Each answer is its own score; there is no total. For life
satisfaction, worthwhile and happiness a higher score is better; for anxiety
a *lower* score is better, so an improvement in anxiety is a fall. The ONS
thresholds: life satisfaction, worthwhile, happiness 0–4 low, 5–6 medium,
7–8 high, 9–10 very high; anxiety 0–1 very low, 2–3 low, 4–5 medium, 6–10 high.

**SWEMWBS** — the Short Warwick-Edinburgh Mental Wellbeing Scale (© NHS
Health Scotland, University of Warwick and University of Edinburgh): seven
statements answered 1 ("none of the time") to 5 ("all of the time") about
the last two weeks. The raw score is the sum (7–35), converted to a metric
score with the published Rasch conversion table (Stewart-Brown et al. 2009),
:data:`SWEMWBS_METRIC`. Scores are compared on the metric score.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from timebank.platform.api.errors import FieldError


@dataclass(frozen=True)
class Scale:
    name: str
    title: str
    introduction: str
    questions: tuple[str, ...]
    low: int
    high: int
    # (value, words) for the answer choices; ONS4 names only the ends.
    choices: tuple[tuple[int, str], ...]


ONS4 = Scale(
    name="ons4",
    title="Personal well-being (ONS4)",
    introduction=(
        "Next I would like to ask you four questions about your feelings on aspects of your "
        "life. There are no right or wrong answers. For each of these questions I'd like you "
        'to give an answer on a scale of 0 to 10, where 0 is "not at all" and 10 is '
        '"completely".'
    ),
    questions=(
        "Overall, how satisfied are you with your life nowadays?",
        "Overall, to what extent do you feel that the things you do in your life are worthwhile?",
        "Overall, how happy did you feel yesterday?",
        "On a scale where 0 is \u201cnot at all anxious\u201d and 10 is \u201ccompletely "
        "anxious\u201d, overall, how anxious did you feel yesterday?",
    ),
    low=0,
    high=10,
    choices=tuple(
        (value, {0: "Not at all", 10: "Completely"}.get(value, "")) for value in range(11)
    ),
)

SWEMWBS = Scale(
    name="swemwbs",
    title="Short Warwick-Edinburgh Mental Wellbeing Scale (SWEMWBS)",
    introduction=(
        "Below are some statements about feelings and thoughts. Please tick the box that best "
        "describes your experience of each over the last 2 weeks."
    ),
    questions=(
        "I've been feeling optimistic about the future",
        "I've been feeling useful",
        "I've been feeling relaxed",
        "I've been dealing with problems well",
        "I've been thinking clearly",
        "I've been feeling close to other people",
        "I've been able to make up my own mind about things",
    ),
    low=1,
    high=5,
    choices=(
        (1, "None of the time"),
        (2, "Rarely"),
        (3, "Some of the time"),
        (4, "Often"),
        (5, "All of the time"),
    ),
)

SCALES = {scale.name: scale for scale in (ONS4, SWEMWBS)}

ONS4_MEASURES = ("life_satisfaction", "worthwhile", "happiness", "anxiety")
# Measures where a lower score is the better one.
LOWER_IS_BETTER = frozenset({"anxiety"})

# SWEMWBS raw score (7-35) → metric score, as published by Warwick Medical School.
SWEMWBS_METRIC: dict[int, Decimal] = {
    raw: Decimal(metric)
    for raw, metric in {
        7: "7.00",
        8: "9.51",
        9: "11.25",
        10: "12.40",
        11: "13.33",
        12: "14.08",
        13: "14.75",
        14: "15.32",
        15: "15.84",
        16: "16.36",
        17: "16.88",
        18: "17.43",
        19: "17.98",
        20: "18.59",
        21: "19.25",
        22: "19.98",
        23: "20.73",
        24: "21.54",
        25: "22.35",
        26: "23.21",
        27: "24.11",
        28: "25.03",
        29: "26.02",
        30: "27.03",
        31: "28.13",
        32: "29.31",
        33: "30.70",
        34: "32.55",
        35: "35.00",
    }.items()
}


def ons4_band(measure: str, score: int) -> str:
    """The ONS threshold band of one ONS4 score."""
    if measure == "anxiety":
        return (
            "very low"
            if score <= 1
            else "low"
            if score <= 3
            else "medium"
            if score <= 5
            else "high"
        )
    return (
        "low" if score <= 4 else "medium" if score <= 6 else "high" if score <= 8 else "very high"
    )


def check_answers(scale_name: str, answers: Any) -> list[int]:
    """The answers if complete and in range; else 422 on ``answers`` (or ``scale``)."""
    scale = SCALES.get(scale_name)
    if scale is None:
        raise FieldError("scale", f"Must be one of: {', '.join(SCALES)}.")
    expected = len(scale.questions)
    if not isinstance(answers, list) or len(answers) != expected or None in answers:
        raise FieldError("answers", f"Answer all {expected} questions.")
    for answer in answers:
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise FieldError("answers", "Each answer must be a whole number.")
        if not scale.low <= answer <= scale.high:
            raise FieldError("answers", f"Each answer must be from {scale.low} to {scale.high}.")
    return list(answers)


def score(scale_name: str, answers: Any) -> dict[str, Any]:
    """The published scores of a complete set of answers (422 on ``answers`` otherwise).

    ``ons4`` → ``{life_satisfaction, worthwhile, happiness, anxiety}``;
    ``swemwbs`` → ``{raw, metric}`` with ``metric`` rounded to 2 decimals.
    """
    checked = check_answers(scale_name, answers)
    if scale_name == "ons4":
        return dict(zip(ONS4_MEASURES, checked, strict=True))
    raw = sum(checked)
    return {"raw": raw, "metric": float(SWEMWBS_METRIC[raw])}


def headline(scale_name: str, scores: dict[str, Any]) -> float:
    """The score reports compare: ``metric`` (swemwbs) or ``life_satisfaction`` (ons4)."""
    return float(scores["metric"] if scale_name == "swemwbs" else scores["life_satisfaction"])


def improved(measure: str, first: float, latest: float) -> bool:
    """Whether ``latest`` is better than ``first`` (a fall, for anxiety)."""
    return latest < first if measure in LOWER_IS_BETTER else latest > first
