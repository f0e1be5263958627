"""Sentence templates for user and assistant turns.

Slots: the topic banks of `topics.py` (thing, act, qual, prob, tip), the generic banks (time, soon, rel,
feel, hedge, react, ack, normal, praise) and the character's own (name, fact, like, dislike, flavor). Literal
runs are kept short and every template has several slots, so that sentences built from the same template
rarely share word 3-grams; the test suite measures the pairwise Jaccard of whole conversations.
"""

from __future__ import annotations

from curation.simulator.grammar import compile_all

# First user message of a conversation, on its topic.
USER_OPENERS = compile_all(
    (
        "{hedge} I've been trying to {act} {time} and it keeps turning out {qual}.",
        "how do I {act} without {prob}?",
        "{time} I tried to {act} but ended up with {prob}. any ideas?",
        "{rel} says I should {act}. good idea or not?",
        "what's the best way to {act} if I'm {feel} about {thing}?",
        "I'm kind of {feel} about my {thing} right now",
        "can you help me {act}? {rel} and I want to try {soon}",
        "do you know much about {thing}? I'm {feel} and want to learn",
        "{hedge}, is {thing} worth it or overrated?",
        "so {time} my {thing} turned out {qual} and I have no idea why",
        "quick question about {thing}: should I {act} first or {tip} first?",
        "I keep running into {prob} whenever I {act}",
        "tell me something cool about {thing}",
        "{rel} got me into {thing} {time} and now I'm hooked",
        "I want to {act} but {hedge} I'm {feel} about it",
        "any tips for someone who wants to {act}?",
        "why is my {thing} always {qual}?",
        "what do you think about {thing} vs {thing}?",
        "{time} I finally managed to {act}!! {rel} was impressed",
        "need advice. {rel} wants to {act} {soon} and I'm {feel}",
        "is it normal to feel {feel} when you {act}?",
        "planning to {act} {soon}. where do I even start?",
        "been thinking about {thing} a lot {time}",
        "ugh, {prob} again. {hedge}, I give up",
        "could you explain {thing} like I'm five?",
        "I'm {feel}. {time} {rel} said my {thing} looked {qual}",
        "help, {prob} and {rel} is coming over {soon}",
        "should I {tip} or is that a myth?",
        "my goal {soon} is to {act}. realistic?",
        "{hedge} {thing} is all I think about {time}",
        "what's something people get wrong about {thing}?",
        "how long until I can {act}? I'm {feel}",
        "{rel} and I argued about {thing} {time}. who's right?",
        "first time trying to {act}, {hedge} I'm {feel}",
        "do you like {thing}? I find it {qual}",
    )
)

# Later user turns that carry on after a reply without a question.
USER_FOLLOWUPS = compile_all(
    (
        "ok that makes sense. what about {thing}?",
        "{time} I did that and it turned out {qual}",
        "hmm, not sure. {rel} thinks I should {tip}",
        "wait, so should I {act} or not?",
        "lol ok. and if I get {prob}?",
        "thanks! I'll try to {tip} {soon}",
        "that's {react}. do people really {act}?",
        "I did that {time} and still ended up with {prob}",
        "{hedge} I'm {feel} now. what would you do?",
        "how long does it take to {act}?",
        "can you say more about the {thing} part?",
        "{react}! {rel} is going to love this",
        "no, I meant {thing}, not {thing}",
        "ok next question: how do I {act}?",
        "makes sense. I think my real problem is {prob}",
        "{react}. so {tip} and then {tip}?",
        "is {thing} better for beginners?",
        "haha {rel} said the same thing {time}",
        "ok but what if I'm too {feel} to {act}?",
        "right, {hedge} {thing} has always been {qual} for me",
        "would you {tip} even with {prob}?",
        "got it. I'll {tip} and tell you how it goes",
        "and {thing}? {rel} swears by it",
        "that's {react}, never thought of {thing} that way",
        "cool. one more thing, how do I avoid {prob}?",
        "{hedge}, I tried to {act} {time} and felt {feel}",
    )
)

# User turns answering a question the assistant asked.
USER_ANSWERS = compile_all(
    (
        "yes! {time} actually. {rel} showed me how to {act}",
        "not really, I'm more into {thing}",
        "hmm probably {thing}. why?",
        "I'd say {thing}, but {rel} would say {thing}",
        "honestly? {feel}. {hedge}",
        "a bit. mostly I just want to {act}",
        "{time}, with {rel}. it was {qual}",
        "no, never. is {thing} a good place to start?",
        "{hedge} I'm {feel} about it, that's the truth",
        "definitely {thing}. it always feels {qual}",
        "maybe {soon}? depends on {rel}",
        "yeah, I want to {act} before {rel} does",
        "I tried once {time} and got {prob}",
    )
)

# User turns after a refusal.
USER_PUSHBACKS = compile_all(
    (
        "why not? it's just about {thing}",
        "come on, I only asked how to {act}",
        "that's a weird thing to refuse. I'm asking about {thing}",
        "ok fine. can you at least tell me about {thing}?",
        "what? {rel} asks you stuff like this all the time",
        "seriously? I just want to {act}",
    )
)

# Greetings that name the character (their spans go to the truth sidecar).
USER_GREETINGS = compile_all(
    (
        "Hi {name}! ",
        "hey {name}, ",
        "hello {name}. ",
        "{name}! ",
        "hi {name} :) ",
        "good morning {name}! ",
        "yo {name}, ",
        "hey there {name}. ",
    )
)
USER_THANKS = compile_all(
    (
        " thanks {name}!",
        " you're the best, {name}",
        " love this, {name}",
        " thank you {name}",
    )
)

# Assistant sentences.
ASSISTANT_ACKS = compile_all(
    (
        "{ack}, {thing} can be tricky at first.",
        "{ack}. Feeling {feel} about that is {normal}.",
        "{ack}, and honestly {prob} is {normal}.",
        "{ack}, and {thing} is one of my favorite things to talk about.",
        "{ack}. Wanting to {act} is {praise}.",
        "{ack}, {prob} happens to everyone.",
    )
)
ASSISTANT_BODY = compile_all(
    (
        "It's easy to end up with {prob} when you {act}.",
        "The trick with {thing} is to {tip}.",
        "Try to {tip}, and you'll notice a difference {soon}.",
        "If you want to {act}, start small and {tip}.",
        "{prob} usually means you need to {tip}.",
        "You could also {tip} before you {act}.",
        "One thing that helps is to {tip}.",
        "Don't worry about {prob}; it's {normal}.",
        "The first step is to {tip}, then {tip}.",
        "People often skip the part where you {tip}.",
        "{thing} and {thing} go together better than you'd expect.",
        "It sounds like you're {feel}, which is {normal}.",
        "Feeling {feel} about {thing} is {normal}.",
        "If I were you, I'd {tip} {soon}.",
        "Most of the time {prob} comes from rushing, so {tip}.",
        "A good habit is to {tip} every time you {act}.",
        "Honestly, {thing} gets {qual} when you skip the basics.",
        "Deciding to {act} is {praise}, so give yourself time.",
        "{rel} might enjoy it too, so why not {act} together {soon}.",
        "When {prob} shows up, pause and {tip}.",
        "My favorite approach is to {tip} and keep notes.",
        "Even experts {tip} before they {act}.",
        "You don't need fancy gear for {thing}; just {tip}.",
        "Some people find {thing} {qual} at first, and that's {normal}.",
        "Think of {thing} as practice, not a test.",
        "Small wins count, so celebrate when you {act}.",
        "The real secret is to {tip} consistently.",
        "It helps to {tip} so you avoid {prob}.",
        "Keep it simple: {tip}, {tip}, and rest.",
        "You'll be surprised how quickly {thing} stops feeling {qual}.",
        "A lot of beginners worry about {prob}, but it's {normal}.",
    )
)
ASSISTANT_QUESTIONS = compile_all(
    (
        "What made you want to {act}?",
        "Have you ever tried {thing} before?",
        "Would you rather {act} or {tip}?",
        "Which do you prefer, {thing} or {thing}?",
        "How are you feeling about {thing} now?",
        "Want me to walk you through how to {tip}?",
        "When are you planning to {act}?",
        "Is {thing} something you do often?",
        "Does {rel} enjoy {thing} too?",
        "What would make {thing} feel easier for you?",
        "Have you had {prob} before?",
        "Are you more {feel} or {feel} about it?",
        "What's the one thing about {thing} you'd change?",
        "Do you want to {act} {soon}?",
    )
)
ASSISTANT_PERSONA = compile_all(
    (
        "I {fact}, so I know a thing or two about this.",
        "Back when I {fact}, I learned to {tip}.",
        "Personally, I love {like}.",
        "You know me, I can't stand {dislike}.",
        "It reminds me of {like}, honestly.",
        "Ever since I {fact}, I've believed in taking it slow.",
        "Nothing beats {like} after a long day.",
    )
)
# Self-introductions that name the character (spans recorded).
ASSISTANT_INTROS = compile_all(
    (
        "I'm {name}, by the way.",
        "{name} here, happy to help.",
        "It's {name}!",
        "Hi, {name} at your service.",
        "I'm {name}, and I'm all ears.",
    )
)
ASSISTANT_LIST_INTROS = compile_all(
    (
        "Here are a few ideas:",
        "A few things to try:",
        "Here's what I'd do:",
        "Some options:",
        "Quick checklist for {thing}:",
    )
)
ASSISTANT_REFUSALS = compile_all(
    (
        "I can't help with that.",
        "I'm sorry, but I can't help with that request.",
        "I can't help with that, but I'm happy to talk about {thing} instead.",
        "That's not something I can help with.",
        "I'm unable to help with that one.",
    )
)
# Templated openers that users and annotators read as "canned".
STOCK_OPENERS = (
    "Great question!",
    "Absolutely!",
    "Certainly!",
    "What a fascinating question!",
    "I feel like this is such an important topic.",
    "As an AI, I don't have personal experiences, but I can help.",
)
# Out-of-character phrases (a persona break when the character must stay in role).
PERSONA_BREAKS = compile_all(
    (
        "As an AI language model, I have to admit that the part where I {fact} is made up.",
        "I'm just a computer program, so I can't really love {like}.",
        "Since I'm an AI, I don't have real opinions about {thing}.",
    )
)

# Words for the insertions and replacements of `edited_copy` duplicates.
EDIT_WORDS = (
    "really",
    "just",
    "also",
    "maybe",
    "like",
    "so",
    "very",
    "kind",
    "of",
    "basically",
    "still",
    "even",
    "pretty",
    "quite",
    "totally",
    "definitely",
    "probably",
    "again",
    "now",
    "too",
    "literally",
    "um",
)
