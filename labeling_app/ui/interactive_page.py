"""The interactive labeling screen: chat with a character, judge two served candidates per turn.

Left: the character card, the scenario card and the chat so far in a box that scrolls inside itself (it
stays at the newest message), then the message box. Right: the two candidates of the open turn side by
side (sides shuffled per turn), each with the always-asked questions and its steerability flag, and the
choice bar: keys 1 and 2 choose a side, 3 a tie, S toggles "much better", F opens the flags, R the rewrite.

Sending a message asks both pool models at once (lakehouse.serving, each bounded by its timeout); a
failure shows which model failed and why, with a Retry button, and keeps the message: nothing is stored
until both candidates are there. A turn's label is stored the moment it is chosen, so an app or model
server that dies later loses no judged turn; the open turn comes back from the store after a reload.
"""

from __future__ import annotations

import time
import uuid

import streamlit as st

from labeling_app import interactive, values
from labeling_app.store import Assignment, Queue, Store, StoreError
from labeling_app.ui import render
from labeling_app.ui.session import User
from lakehouse.errors import ConfigError
from lakehouse.serving import ServingError

CHAT_HEIGHT = 360
CANDIDATE_HEIGHT = 200
# (label, choice, key, tooltip)
CHOICES = (("1 is better", "A", "1", "Reply 1 is better"), ("2 is better", "B", "2", "Reply 2 is better"))
TIE = ("3: tie", "tie", "3", "Neither is better")
# Streamlit refuses R as a button shortcut (it reloads the page), so the R key is a listener of its own: a
# constant script (no data in it) that clicks the Rewrite button unless a text box has the focus.
REWRITE_KEY_SCRIPT = """<script>
if (!window.flywheelRewriteKey) {
  window.flywheelRewriteKey = true;
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (typing || event.altKey || event.ctrlKey || event.metaKey || (event.key !== "r" && event.key !== "R")) return;
    const button = [...document.querySelectorAll("button")].find((b) => b.innerText.trim() === "Rewrite");
    if (button) { event.preventDefault(); event.stopPropagation(); button.click(); }
  }, true);
}
</script>"""


def form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    """The message is read and sent before the chat and the candidates are drawn, so the run that sends it
    also renders both replies (no second script run between the answer and the screen)."""
    from labeling_app.ui import label_page

    task = assignment.task
    turns = store.turns(task_id=task.task_id, annotator=user.name)
    open_turn = turns[-1] if turns and turns[-1]["label"] is None else None
    left, right = st.columns([5, 7], gap="medium")
    with left:
        _cards(task.payload)
        chat_box = st.container()
        input_slot = st.empty()
    if open_turn is None:
        with input_slot.container():
            message = _message_box(store, queue, assignment, user, turns, label_page)
        if message and _send(store, queue, task.task_id, user, message, right):
            input_slot.empty()
            turns = store.turns(task_id=task.task_id, annotator=user.name)
            open_turn = turns[-1]
    with chat_box:
        _chat(task.payload, turns, open_turn, str(task.task_id))
    with right, st.container(key="item_box"):
        if open_turn is not None:
            _judge(store, queue, open_turn, user)
        else:
            _request_state(store, queue, assignment, user, right)


def _cards(payload: dict) -> None:
    render.character_card(payload)
    scenario = payload.get("scenario") or {}
    st.caption(
        f"**Scenario: {render.md_escape(scenario.get('title', ''))}**: {render.md_escape(scenario.get('challenge', ''))}"
    )


def _chat(payload: dict, turns: list[dict], open_turn: dict | None, key: str) -> None:
    messages = interactive.chat_so_far(turns)
    if open_turn is not None:
        messages = open_turn["context"]
    with st.container(height=CHAT_HEIGHT, border=True, autoscroll=True, key=f"chat-{key}"):
        if not messages:
            st.caption("No messages yet: write the first one below.")
        for message in messages:
            render.bubble(payload, message)


def _message_box(
    store: Store, queue: Queue, assignment: Assignment, user: User, turns: list[dict], label_page
) -> str | None:
    """The message box (while the chat has turns left) and the Finish button; returns a sent message."""
    task_id = assignment.task.task_id
    limit = int(queue.spec.get("max_turns", interactive.MAX_TURNS))
    labeled = sum(1 for t in turns if t["label"] is not None)
    message = None
    if labeled < limit:
        message = st.chat_input("Your message to the character", key=f"message-{task_id}", max_chars=4000)
    else:
        st.info(f"This chat has its {limit} turns: finish it.")
    if st.button(
        f"Finish chat ({labeled} judged turns)",
        key=f"finish-{task_id}",
        disabled=labeled == 0,
        icon=":material/done_all:",
        help="Store the chat as done and go to the next one.",
    ):
        label_page._submit(store, assignment, user, {"turns": labeled})
    return message.strip() if isinstance(message, str) and message.strip() else None


def _send(store: Store, queue: Queue, task_id: int, user: User, message: str, where) -> bool:
    """Ask both models (a spinner in `where` meanwhile); on failure keep the message and the reason for
    the Retry button. True when the turn is stored."""
    st.session_state[f"turn-message-{task_id}"] = message
    st.session_state.pop(f"turn-error-{task_id}", None)
    try:
        with where, st.spinner("Asking both models..."):
            interactive.new_turn(store, queue, task_id, user.name, message)
    except (ServingError, StoreError, ConfigError) as exc:  # ConfigError: the pool file went bad mid-session
        st.session_state[f"turn-error-{task_id}"] = str(exc)
        return False
    st.session_state.pop(f"turn-message-{task_id}", None)
    return True


def _request_state(store: Store, queue: Queue, assignment: Assignment, user: User, where) -> None:
    task_id = assignment.task.task_id
    error = st.session_state.get(f"turn-error-{task_id}")
    message = st.session_state.get(f"turn-message-{task_id}")
    if error is None or message is None:
        st.info("Write the user's message (bottom left): both models answer it, and you judge the two replies.")
        return
    st.error(f"The candidates did not arrive: {render.md_escape(error)}")
    st.caption("Your message is kept:")
    render.text_box(message)
    retry, drop = st.columns(2)
    if retry.button("Retry", key=f"retry-{task_id}", type="primary", icon=":material/refresh:", width="stretch"):
        _send(store, queue, task_id, user, message, where)
        st.rerun()
    if drop.button("Discard the message", key=f"discard-{task_id}", width="stretch"):
        st.session_state.pop(f"turn-message-{task_id}", None)
        st.session_state.pop(f"turn-error-{task_id}", None)
        st.rerun()


def _toggle(state_key: str) -> None:
    st.session_state[state_key] = not st.session_state.get(state_key, False)


def _judge(store: Store, queue: Queue, turn: dict, user: User) -> None:
    turn_id = turn["turn_id"]
    st.session_state.setdefault(f"turn-shown-{turn_id}", time.monotonic())
    flags_open = st.session_state.get(f"flags-{turn_id}", False)
    rewrite_open = st.session_state.get(f"rewrite-open-{turn_id}", False)
    strong = st.session_state.get(f"strong-{turn_id}", False)
    shown = [turn["candidates"][i] for i in turn["sides"]]
    with st.container(key="candidates"):
        for number, (column, candidate) in enumerate(zip(st.columns(2), shown, strict=True), start=1):
            with column:
                st.markdown(f"**Reply {number}**")
                with st.container(height=CANDIDATE_HEIGHT, border=True, key=f"candidate-{number}"):
                    st.text(candidate["text"])
                for q_column, question in zip(
                    st.columns(len(queue.spec["questions"])), queue.spec["questions"], strict=True
                ):
                    q_column.checkbox(
                        question["id"].replace("_", " ").capitalize(),
                        key=f"q-{turn_id}-{number}-{question['id']}",
                        help=question["text"],
                    )
                if flags_open:
                    st.text_input(
                        f"Instruction reply {number} broke",
                        key=f"flag-{turn_id}-{number}",
                        max_chars=values.MAX_NOTE_CHARS,
                        placeholder="Instruction it broke (empty: none)",
                        label_visibility="collapsed",
                    )
    if rewrite_open:
        st.text_area(
            "Your reply (both failed)",
            key=f"rewrite-{turn_id}",
            height=90,
            max_chars=values.MAX_REWRITE_CHARS,
            placeholder="The reply the character should have given",
        )
    chosen = _choice_bar(turn_id, strong, flags_open, rewrite_open)
    if chosen is not None:
        _save(store, queue, turn, user, chosen, strong)


def _choice_bar(turn_id: int, strong: bool, flags_open: bool, rewrite_open: bool) -> str | None:
    chosen = None
    with st.container(key="choice_bar"):
        columns = st.columns([1.2, 1.2, 0.9, 1.2, 0.9, 0.9], gap="small")
        for column, (label, choice, key, tip) in zip(columns, (*CHOICES, TIE), strict=False):
            if column.button(
                label, key=f"choose-{choice}-{turn_id}", shortcut=key, help=f"{tip} (key {key})", width="stretch"
            ):
                chosen = choice
        columns[3].button(
            "Much better ✓" if strong else "Much better",
            key=f"strong-btn-{turn_id}",
            type="primary" if strong else "secondary",
            shortcut="S",
            on_click=_toggle,
            args=(f"strong-{turn_id}",),
            help="The better reply is much better (key S)",
            width="stretch",
        )
        columns[4].button(
            "Flag",
            key=f"flag-btn-{turn_id}",
            shortcut="F",
            on_click=_toggle,
            args=(f"flags-{turn_id}",),
            type="primary" if flags_open else "secondary",
            help="Flag a reply that breaks the character (key F)",
            width="stretch",
        )
        st.html(REWRITE_KEY_SCRIPT, unsafe_allow_javascript=True)
        columns[5].button(
            "Rewrite",
            key=f"rewrite-btn-{turn_id}",
            on_click=_toggle,
            args=(f"rewrite-open-{turn_id}",),
            type="primary" if rewrite_open else "secondary",
            help="Write the reply yourself when both fail (key R)",
            width="stretch",
        )
        st.caption("Keys: 1 or 2 chooses the better reply, 3 a tie; S much better, F flags, R rewrites.")
    return chosen


def _save(store: Store, queue: Queue, turn: dict, user: User, choice: str, strong: bool) -> None:
    turn_id = turn["turn_id"]
    state = st.session_state
    answers = {
        side: {
            q["id"]: "yes" if state.get(f"q-{turn_id}-{number}-{q['id']}") else "no" for q in queue.spec["questions"]
        }
        for number, side in ((1, "A"), (2, "B"))
    }
    flags = {
        side: text
        for number, side in ((1, "A"), (2, "B"))
        if (text := (state.get(f"flag-{turn_id}-{number}") or "").strip())
    }
    raw = {
        "choice": choice,
        "strength": "strong" if strong and choice != "tie" else None,
        "flags": flags,
        "rewrite": state.get(f"rewrite-{turn_id}") if state.get(f"rewrite-open-{turn_id}") else None,
        "answers": answers,
    }
    shown = state.get(f"turn-shown-{turn_id}")
    seconds = round(time.monotonic() - shown, 3) if shown is not None else None
    submission_id = state.setdefault(f"turn-submission-{turn_id}", uuid.uuid4().hex)
    try:
        store.label_turn(turn_id, user.name, raw, seconds=seconds, submission_id=submission_id)
    except (values.LabelError, StoreError) as exc:
        st.error(render.md_escape(str(exc)))
        return
    st.session_state["flash"] = f"Saved turn {turn['turn'] + 1}."
    st.rerun()
