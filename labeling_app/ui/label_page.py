"""The labeling screen: one item at a time, a form per task kind, keyboard shortcuts for every choice.

Shortcuts use modifier keys (Alt+...), which Streamlit lets through even while a text box has focus, and
plain keys never fire: typing in a rewrite or a reason cannot trigger a choice. The item on screen is in
the address (`?queue=...&task=...`) so a reload resumes it; an id there that is not assigned to the
signed-in annotator is refused without showing anything of that item.
"""

from __future__ import annotations

import time
import uuid

import streamlit as st

from labeling_app import values
from labeling_app.config import ANSWERS
from labeling_app.store import Assignment, Queue, Store, StoreError
from labeling_app.ui import render
from labeling_app.ui.session import User

MAX_TASK_ID = 2**63 - 1
# (label, choice, strength, shortcut, tooltip)
PAIRWISE_BUTTONS = (
    ("A ≫ B", "A", "strong", "Alt+Shift+1", "A is much better"),
    ("A > B", "A", None, "Alt+1", "A is better"),
    ("Tie", "tie", None, "Alt+0", "Neither is better"),
    ("B > A", "B", None, "Alt+2", "B is better"),
    ("B ≫ A", "B", "strong", "Alt+Shift+2", "B is much better"),
)
ANSWER_KEYS = dict(zip(ANSWERS, ("Y", "N", "U"), strict=True))


def page(store: Store, user: User) -> None:
    queues = store.queues()
    if not queues:
        st.info("No queues yet. A reviewer creates one on the Admin page, or run `flywheel label queue create`.")
        return
    queue = _pick_queue(queues)
    flash = st.session_state.pop("flash", None)
    if flash:
        st.toast(flash)
    assignment = _current_assignment(store, queue, user)
    _progress(store, queue, user)
    if assignment is None:
        st.success("Nothing left for you in this queue. Thank you!")
        return
    task_id = assignment.task.task_id
    st.session_state.setdefault(f"shown-{task_id}", time.monotonic())
    _header(queue, task_id)
    FORMS[queue.kind](store, queue, assignment, user)
    _skip_form(store, queue, assignment, user)


def _pick_queue(queues: list[Queue]) -> Queue:
    by_name = {q.name: q for q in queues}
    wanted = st.query_params.get("queue")
    names = list(by_name)
    name = st.sidebar.selectbox(
        "Queue",
        names,
        index=names.index(wanted) if wanted in by_name else 0,
        format_func=lambda n: f"{n} ({by_name[n].kind})",
        key="queue_pick",
    )
    if st.query_params.get("queue") != name:
        st.query_params["queue"] = name
        st.query_params.pop("task", None)
    return by_name[name]


def _current_assignment(store: Store, queue: Queue, user: User) -> Assignment | None:
    raw = st.query_params.get("task")
    if raw is not None:
        assignment = _from_address(store, queue, user, raw)
        if assignment is not None:
            return assignment
        st.query_params.pop("task", None)
    assignment = store.next_task(queue.queue_id, user.name)
    if assignment is not None:
        st.query_params["task"] = str(assignment.task.task_id)
    return assignment


def _from_address(store: Store, queue: Queue, user: User, raw: str) -> Assignment | None:
    """The item named in the address, only if it is this annotator's open item in this queue."""
    try:
        task_id = int(raw)
    except ValueError:
        task_id = None
    if task_id is None or not 0 < task_id <= MAX_TASK_ID:
        st.warning("The address names no valid item; here is your next item instead.")
        return None
    assignment = store.assignment(task_id, user.name)
    if assignment is None or assignment.task.queue_id != queue.queue_id:
        st.warning(f"Item {task_id} is not assigned to you; here is your next item instead.")
        return None
    if assignment.state not in ("open", "expired"):
        verb = "labeled" if assignment.state == "done" else "skipped"
        st.info(f"You already {verb} item {task_id}; here is your next item.")
        return None
    return assignment


def _progress(store: Store, queue: Queue, user: User) -> None:
    mine = store.count_labels(queue.queue_id, user.name)
    share = queue.n_labels / queue.target_labels if queue.target_labels else 0.0
    st.progress(
        min(share, 1.0),
        text=f"Queue: {queue.n_labels:,} of {queue.target_labels:,} labels, "
        f"{queue.n_complete:,} of {queue.n_tasks:,} items complete. You: {mine:,} labels.",
    )


def _header(queue: Queue, task_id: int) -> None:
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.markdown(f"**{render.md_escape(queue.name)}** ({queue.kind}), item {task_id}")
    with right.popover("Guideline", icon=":material/menu_book:", width="stretch"):
        st.markdown(queue.spec["guideline"])
        st.caption(f"Guideline version {render.md_escape(queue.spec['guideline_version'])}")


def _submit(store: Store, assignment: Assignment, user: User, raw: dict) -> None:
    task_id = assignment.task.task_id
    shown = st.session_state.get(f"shown-{task_id}")
    seconds = round(time.monotonic() - shown, 3) if shown is not None else None
    submission_id = st.session_state.setdefault(f"submission-{task_id}", uuid.uuid4().hex)
    try:
        store.submit(task_id, user.name, user.role, raw, seconds=seconds, submission_id=submission_id)
    except (values.LabelError, StoreError) as exc:
        st.error(render.md_escape(str(exc)))
        return
    st.session_state["flash"] = f"Saved item {task_id}."
    st.query_params.pop("task", None)
    st.rerun()


def pairwise_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    task = assignment.task
    sides = assignment.sides or [0, 1]
    candidates = task.payload["candidates"]
    render.item(
        task.payload, str(task.task_id), [("A", candidates[sides[0]]["text"]), ("B", candidates[sides[1]]["text"])]
    )
    chosen = None
    with st.form(f"pairwise-{task.task_id}", border=False):
        reason = st.text_input("Reason (optional)", key=f"reason-{task.task_id}", max_chars=values.MAX_NOTE_CHARS)
        for column, (label, choice, strength, shortcut, tip) in zip(
            st.columns(len(PAIRWISE_BUTTONS)), PAIRWISE_BUTTONS, strict=True
        ):
            kind = "primary" if choice != "tie" and strength is None else "secondary"
            if column.form_submit_button(
                label,
                key=f"pairwise-{choice}-{strength}-{task.task_id}",
                type=kind,
                shortcut=shortcut,
                width="stretch",
                help=tip,
            ):
                chosen = {"choice": choice, "strength": strength, "reason": reason}
    if chosen is not None:
        _submit(store, assignment, user, chosen)


def _set_answer(state_key: str, question: str, answer: str) -> None:
    st.session_state[state_key] = {**st.session_state.get(state_key, {}), question: answer}


def questionnaire_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    """Every question answered with buttons; Alt+Y/N/U answers the first open question (marked ▶)."""
    task = assignment.task
    render.item(task.payload, str(task.task_id), [("Reply", task.payload["candidates"][0]["text"])])
    questions = queue.spec["questions"]
    state_key = f"answers-{task.task_id}"
    answers = st.session_state.setdefault(state_key, {})
    current = next((q["id"] for q in questions if q["id"] not in answers), None)
    for number, question in enumerate(questions, start=1):
        row = st.columns([5, 1, 1, 1.3], vertical_alignment="center")
        marker = "▶ " if question["id"] == current else ""
        row[0].markdown(f"{marker}**{number}.** {render.md_escape(question['text'])}")
        for column, answer in zip(row[1:], ANSWERS, strict=True):
            column.button(
                answer.capitalize(),
                key=f"q-{task.task_id}-{question['id']}-{answer}",
                type="primary" if answers.get(question["id"]) == answer else "secondary",
                shortcut=f"Alt+{ANSWER_KEYS[answer]}" if question["id"] == current else None,
                on_click=_set_answer,
                args=(state_key, question["id"], answer),
                width="stretch",
            )
    complete = all(q["id"] in answers for q in questions)
    if st.button(
        "Submit answers", key=f"q-submit-{task.task_id}", type="primary", disabled=not complete, shortcut="Alt+Enter"
    ):
        _submit(store, assignment, user, {"answers": dict(answers)})


def rating_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    task = assignment.task
    render.item(task.payload, str(task.task_id), [("Reply", task.payload["candidates"][0]["text"])])
    scale = queue.spec["rating"]
    scores = range(scale["min"], scale["max"] + 1)
    chosen = None
    with st.form(f"rating-{task.task_id}", border=False):
        note = st.text_input("Note (optional)", key=f"note-{task.task_id}", max_chars=values.MAX_NOTE_CHARS)
        for column, score in zip(st.columns(len(scores)), scores, strict=True):
            label = f"{score}: {scale['labels'].get(str(score), '')}".rstrip(": ")
            if column.form_submit_button(
                label, key=f"rating-{score}-{task.task_id}", shortcut=f"Alt+{score % 10}", width="stretch"
            ):
                chosen = {"score": score, "note": note}
    if chosen is not None:
        _submit(store, assignment, user, chosen)


def rewrite_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    task = assignment.task
    original = task.payload["candidates"][0]["text"]
    render.character_card(task.payload)
    render.conversation(task.payload, str(task.task_id))
    st.markdown("**Original reply**")
    render.text_box(original)
    with st.form(f"rewrite-{task.task_id}", border=False):
        text = st.text_area(
            "Your rewrite",
            value=original,
            height=260,
            key=f"rewrite-{task.task_id}",
            max_chars=values.MAX_REWRITE_CHARS,
        )
        note = st.text_input("Note (optional)", key=f"note-{task.task_id}", max_chars=values.MAX_NOTE_CHARS)
        left, right = st.columns(2)
        preview = left.form_submit_button("Show diff", key=f"diff-{task.task_id}", shortcut="Alt+D", width="stretch")
        submit = right.form_submit_button(
            "Submit rewrite", key=f"submit-{task.task_id}", type="primary", shortcut="Alt+Enter", width="stretch"
        )
    if preview:
        st.code(
            values.rewrite_diff(original, text) or "(no change: submitting keeps the reply as it is)", language="diff"
        )
    if submit:
        _submit(store, assignment, user, {"text": text, "note": note})


def _skip_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    task_id = assignment.task.task_id
    with st.expander("Skip this item"), st.form(f"skip-{task_id}", border=False):
        reason = st.radio("Reason", queue.spec["skip_reasons"], index=None, key=f"skip-reason-{task_id}")
        detail = st.text_input("Details (optional)", key=f"skip-detail-{task_id}", max_chars=500)
        if not st.form_submit_button("Skip item", key=f"skip-{task_id}"):
            return
    if reason is None:
        st.error("Pick a reason to skip this item.")
        return
    try:
        store.skip(task_id, user.name, f"{reason}: {detail.strip()}" if detail.strip() else reason)
    except StoreError as exc:
        st.error(render.md_escape(str(exc)))
        return
    st.session_state["flash"] = f"Skipped item {task_id}."
    st.query_params.pop("task", None)
    st.rerun()


FORMS = {"pairwise": pairwise_form, "questionnaire": questionnaire_form, "rating": rating_form, "rewrite": rewrite_form}
