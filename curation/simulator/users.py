"""Users and staff: ids, experiment arms, apps, locales, engagement and heavy-tailed activity.

There are about conversations/4 users. Each is assigned to an arm of the experiment by a hash of its id
(50/50), and has an activity weight: within each arm, users are ranked in a seeded random order and the
weight of rank r is the Pareto(PARETO_SHAPE) quantile ((r + 0.5) / n_arm) ** (-1 / shape), so both arms
have the same heavy-tailed activity profile by construction and the planted breadth lift is not drowned
by which arm happened to draw the few very heavy users. Test-arm weights are multiplied by
BREADTH_MULTIPLIER: test users start more conversations. The pool depends only on (conversations, seed),
so every shard worker rebuilds the same one.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from curation.simulator.config import EXPERIMENT_ID
from curation.simulator.grammar import Rnd
from curation.simulator.signals import USER_ENGAGEMENT_SD

PARETO_SHAPE = 1.6
BREADTH_MULTIPLIER = 1.05
N_STAFF = 40
APPS = (("ios", 0.42), ("android", 0.38), ("web", 0.20))
LOCALES = (("en-US", 0.70), ("en-GB", 0.10), ("en-IN", 0.07), ("en-CA", 0.05), ("de-DE", 0.04), ("fr-FR", 0.04))


def arm_for(user_id: str, experiment_id: str = EXPERIMENT_ID) -> str:
    """The experiment arm of a user: a stable hash of (experiment, user id), split 50/50."""
    digest = hashlib.sha256(f"{experiment_id}:{user_id}".encode()).digest()
    return "test" if digest[0] & 1 else "control"


def _weighted(options: tuple[tuple[str, float], ...], u: float) -> str:
    for value, weight in options:
        if u < weight:
            return value
        u -= weight
    return options[-1][0]


@dataclass(frozen=True)
class User:
    user_id: str
    arm: str
    app: str
    locale: str
    engagement: float


@dataclass(frozen=True)
class UserPool:
    by_arm: dict[str, tuple[User, ...]]
    cum_weights: dict[str, tuple[float, ...]]
    staff: tuple[User, ...]
    staff_cum_weights: tuple[float, ...]

    @property
    def test_share(self) -> float:
        """The share of user conversations that belong to the test arm."""
        test, control = self.cum_weights["test"][-1], self.cum_weights["control"][-1]
        return test / (test + control)

    def draw(self, arm: str, rnd: Rnd) -> User:
        cum = self.cum_weights[arm]
        return self.by_arm[arm][bisect.bisect_right(cum, rnd() * cum[-1])]

    def draw_staff(self, rnd: Rnd) -> User:
        return self.staff[bisect.bisect_right(self.staff_cum_weights, rnd() * self.staff_cum_weights[-1])]


def n_users(conversations: int) -> int:
    return max(20, conversations // 4)


@lru_cache(maxsize=2)
def user_pool(
    conversations: int, seed: int, test_multiplier: float = BREADTH_MULTIPLIER, experiment_id: str = EXPERIMENT_ID
) -> UserPool:
    rng = random.Random(f"users:{seed}")
    width = max(6, len(str(n_users(conversations))))
    ids = [f"u-{i:0{width}d}" for i in range(n_users(conversations))]
    arms = [arm_for(user_id, experiment_id) for user_id in ids]
    apps = [_weighted(APPS, rng.random()) for _ in ids]
    locales = [_weighted(LOCALES, rng.random()) for _ in ids]
    # Rank r of either arm gets the same engagement draw and the same activity quantile: a paired design.
    engagement_by_rank = [rng.gauss(0, USER_ENGAGEMENT_SD) for _ in ids]
    by_arm: dict[str, tuple[User, ...]] = {}
    cum_weights: dict[str, tuple[float, ...]] = {}
    for arm, multiplier in (("control", 1.0), ("test", test_multiplier)):
        members = [i for i, user_arm in enumerate(arms) if user_arm == arm]
        rng.shuffle(members)
        by_arm[arm] = tuple(
            User(ids[i], arm, apps[i], locales[i], engagement_by_rank[rank]) for rank, i in enumerate(members)
        )
        cum_weights[arm] = tuple(
            accumulate(
                multiplier * ((rank + 0.5) / len(members)) ** (-1 / PARETO_SHAPE) for rank in range(len(members))
            )
        )
    staff = tuple(
        User(f"staff-{i + 1:03d}", "", "internal-eval", "en-US", rng.gauss(0, USER_ENGAGEMENT_SD))
        for i in range(N_STAFF)
    )
    staff_weights = [(rank + 1) ** -0.8 for rank in range(N_STAFF)]
    return UserPool(by_arm, cum_weights, staff, tuple(accumulate(staff_weights)))
