"""Counts over generated traffic, merged across shards into simulation.json.

Besides plain counts, the tally keeps the observed signal rates for replies with and without each binary
feature (the evidence that signals follow features) and, per experiment arm, conversations and user
turns (the achieved breadth and depth lift).
"""

from __future__ import annotations

from collections import Counter, defaultdict

OUTCOMES = ("continued", "love", "regenerated", "reported", "thumb_up", "thumb_down", "feedback")
BINARY_FEATURES = (
    "ends_with_question",
    "emoji_flood",
    "has_list",
    "wall_of_text",
    "refusal",
    "stock_opener",
    "persona_break",
    "instruction_violation",
)
TURN_BUCKETS = ((1, "1"), (2, "2"), (3, "3"), (5, "4-5"), (10, "6-10"), (20, "11-20"), (29, "21-29"), (30, "30"))


def _bucket(turns: int) -> str:
    return next(label for limit, label in TURN_BUCKETS if turns <= limit)


class Tally:
    def __init__(self) -> None:
        self.sections: defaultdict[str, Counter] = defaultdict(Counter)

    def add(self, record: dict, truth: dict) -> None:
        s = self.sections
        totals = s["totals"]
        messages = record["messages"]
        user_turns = sum(1 for m in messages if m["role"] == "user")
        totals["conversations"] += 1
        totals["messages"] += len(messages)
        totals["user_messages"] += user_turns
        totals["assistant_messages"] += len(messages) - user_turns
        totals["character_mentions"] += len(truth["character_mentions"])
        totals["user_messages_with_pii"] += len({p["turn"] for p in truth["pii"]})
        s["by_source"][record["source"]] += 1
        s["by_model_version"][record["model_version"]] += 1
        s["by_app"][record["app"]] += 1
        s["by_locale"][record["locale"]] += 1
        s["by_character"][record["character"]["character_id"]] += 1
        s["by_topic"][truth["topic"]] += 1
        s["user_turns"][_bucket(user_turns)] += 1
        if record.get("experiment"):
            arm = record["experiment"]["arm"]
            s["arm_conversations"][arm] += 1
            s["arm_user_turns"][arm] += user_turns
        if truth["duplicate_kind"]:
            s["duplicates"][truth["duplicate_kind"]] += 1
        for entry in truth["pii"]:
            s["pii"][entry["type"]] += 1
        replies = s["replies"]
        for features in truth["reply_features"]:
            signals = messages[features["turn"]]["signals"]
            feature_mask = 0
            for bit, feature in enumerate(BINARY_FEATURES):
                if features[feature]:
                    feature_mask |= 1 << bit
            thumb = signals["thumb"]
            outcome_mask = (
                signals["continued"]
                | signals["love"] << 1
                | signals["regenerated"] << 2
                | signals["reported"] << 3
                | (thumb > 0) << 4
                | (thumb < 0) << 5
                | (signals["feedback"] is not None) << 6
            )
            replies[feature_mask, outcome_mask] += 1

    def merge(self, other: Tally) -> None:
        for name, counter in other.sections.items():
            self.sections[name].update(counter)

    def _reply_counts(self) -> tuple[Counter, Counter]:
        """(signal totals, per "feature=value:outcome" counts) from the compact (features, outcomes) masks."""
        totals: Counter[str] = Counter()
        by_feature: Counter[str] = Counter()
        for (feature_mask, outcome_mask), n in self.sections["replies"].items():
            outcomes = [name for bit, name in enumerate(OUTCOMES) if outcome_mask >> bit & 1]
            totals["replies"] += n
            for name in outcomes:
                totals[name] += n
            for bit, feature in enumerate(BINARY_FEATURES):
                key = f"{feature}={feature_mask >> bit & 1}"
                by_feature[f"{key}:replies"] += n
                if not outcome_mask >> 2 & 1:
                    by_feature[f"{key}:kept"] += n
                for name in outcomes:
                    by_feature[f"{key}:{name}"] += n
        return totals, by_feature

    def signal_rates_by_feature(self) -> dict:
        """Per binary feature and value: replies, and the rate of each signal (continued among the replies
        that were not regenerated, since a regenerated reply is never continued by definition)."""
        _, by_feature = self._reply_counts()
        table = {}
        for feature in BINARY_FEATURES:
            for value in (1, 0):
                key = f"{feature}={value}"
                replies = by_feature[f"{key}:replies"]
                if not replies:
                    continue
                kept = by_feature[f"{key}:kept"]
                rates = {
                    "replies": replies,
                    "continued": round(by_feature[f"{key}:continued"] / kept, 4) if kept else None,
                }
                for name in ("thumb_up", "thumb_down", "love", "regenerated", "reported"):
                    rates[name] = round(by_feature[f"{key}:{name}"] / replies, 4)
                table[key] = rates
        return table

    def counts(self, exposed_by_arm: Counter) -> dict:
        s = self.sections
        totals = s["totals"]
        arms = {
            arm: {
                "conversations": s["arm_conversations"][arm],
                "users_exposed": exposed_by_arm[arm],
                "user_turns": s["arm_user_turns"][arm],
            }
            for arm in ("control", "test")
        }
        return {
            **{name: totals[name] for name in ("conversations", "messages", "user_messages", "assistant_messages")},
            "by_source": dict(sorted(s["by_source"].items())),
            "by_arm": arms,
            "by_model_version": dict(sorted(s["by_model_version"].items())),
            "by_app": dict(sorted(s["by_app"].items())),
            "by_locale": dict(sorted(s["by_locale"].items())),
            "by_topic": dict(sorted(s["by_topic"].items())),
            "characters_used": len(s["by_character"]),
            "user_turns_histogram": {label: s["user_turns"][label] for _, label in TURN_BUCKETS},
            "pii_spans_by_type": dict(sorted(s["pii"].items())),
            "user_messages_with_pii": totals["user_messages_with_pii"],
            "pii_user_message_share": round(totals["user_messages_with_pii"] / max(totals["user_messages"], 1), 4),
            "character_mentions": totals["character_mentions"],
            "duplicates_by_kind": dict(sorted(s["duplicates"].items())),
            "signals": dict(sorted(self._reply_counts()[0].items())),
        }

    def lift(self, exposed_by_arm: Counter) -> dict:
        """Achieved test-vs-control lift: breadth = conversations per exposed user, depth = user turns per
        conversation (user traffic in the experiment)."""
        s = self.sections
        conversations, turns = s["arm_conversations"], s["arm_user_turns"]
        if not all(conversations[arm] and exposed_by_arm[arm] for arm in ("control", "test")):
            return {"breadth": None, "depth": None}
        breadth = {arm: conversations[arm] / exposed_by_arm[arm] for arm in ("control", "test")}
        depth = {arm: turns[arm] / conversations[arm] for arm in ("control", "test")}
        return {
            "conversations_per_exposed_user": {arm: round(v, 4) for arm, v in breadth.items()},
            "user_turns_per_conversation": {arm: round(v, 4) for arm, v in depth.items()},
            "breadth": round(breadth["test"] / breadth["control"] - 1, 4),
            "depth": round(depth["test"] / depth["control"] - 1, 4),
        }
