"""Conversation topics and their vocabularies.

Each topic has five slot banks that the sentence templates of `phrases.py` draw from:
`thing` (a noun phrase without article), `act` (a base-form verb phrase: "I want to {act}"), `qual` (an
adjective phrase), `prob` (a problem, a noun phrase with its article) and `tip` (an imperative verb phrase:
"try to {tip}"). The banks are large enough, and the templates have short enough literal runs, that two
conversations on the same topic share few word 3-grams (docs/simulator.md has the measurement).

Vocabulary avoids real people's names, digits and addresses, so that the only personal data in the
traffic is what `pii.py` plants and records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SLOTS = ("thing", "act", "qual", "prob", "tip")

# Bank items are written in either voice ("fix my posture", "keep your core tight"); each side of the
# conversation gets them converted to its own: the user says "my", the assistant says "your".
_TO_USER = (
    (r"\byou aren't\b", "I'm not"),
    (r"\byou're\b", "I'm"),
    (r"\byourself\b", "myself"),
    (r"\byour\b", "my"),
    (r"\byou\b", "I"),
)
_TO_ASSISTANT = (
    (r"\bI'm\b", "you're"),
    (r"\bmyself\b", "yourself"),
    (r"\bmy\b", "your"),
    (r"\bme\b", "you"),
    (r"\bI\b", "you"),
)


def _converter(rules: tuple[tuple[str, str], ...]):
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in rules]

    def convert(text: str) -> str:
        for pattern, replacement in compiled:
            text = pattern.sub(replacement, text)
        return text

    return convert


user_voice = _converter(_TO_USER)
assistant_voice = _converter(_TO_ASSISTANT)
VOICES = {"user": user_voice, "assistant": assistant_voice}


VOICED_SLOTS = SLOTS + ("time", "soon", "rel")


def in_voice(banks: dict[str, tuple[str, ...]], voice: str) -> dict[str, tuple[str, ...]]:
    """`banks` with the items of VOICED_SLOTS converted to one side's voice (the other slots belong to
    one side only: `ack` and `normal` to the assistant, `hedge` and `react` to the user)."""
    convert = VOICES[voice]
    return {
        slot: tuple(convert(item) for item in items) if slot in VOICED_SLOTS else items for slot, items in banks.items()
    }


@dataclass(frozen=True)
class Topic:
    topic_id: str
    label: str
    thing: tuple[str, ...]
    act: tuple[str, ...]
    qual: tuple[str, ...]
    prob: tuple[str, ...]
    tip: tuple[str, ...]

    def banks(self) -> dict[str, tuple[str, ...]]:
        return {slot: getattr(self, slot) for slot in SLOTS}


def _bank(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split("|") if item.strip())


def _topic(topic_id: str, label: str, thing: str, act: str, qual: str, prob: str, tip: str) -> Topic:
    return Topic(topic_id, label, _bank(thing), _bank(act), _bank(qual), _bank(prob), _bank(tip))


TOPICS: tuple[Topic, ...] = (
    _topic(
        "cooking",
        "cooking and recipes",
        thing="sourdough starter | cast iron skillet | homemade pasta | weeknight curry | banana bread | risotto"
        " | knife skills | spice drawer | slow cooker | fried rice | tomato sauce | meal prep containers"
        " | pie crust | dumpling dough | chocolate chip cookies | roast chicken | lentil soup | garlic butter"
        " | pizza stone | vegetable stock | miso glaze | stir fry | pancake batter | chili oil | salad dressing"
        " | bread flour | sheet pan dinners",
        act="bake bread at home | make fresh pasta | cook a full dinner for guests | meal prep for the week"
        " | make dumplings from scratch | season a cast iron pan | cook rice without a rice cooker"
        " | make a proper curry | bake something without eggs | cook more vegetables | fry an egg perfectly"
        " | make pizza dough | plan a cheap grocery list | make soup from leftovers | roast a whole chicken",
        qual="way too salty | weirdly dense | super bland | almost perfect | kind of rubbery | burnt on the bottom"
        " | surprisingly good | too runny | crispy in a good way | sticky and gummy | overcooked | really fragrant",
        prob="a soggy bottom crust | burnt garlic | gluey rice | dough that never rises | a smoke alarm going off"
        " | a sauce that splits | sticky noodles | flat cookies | an undercooked center | a pan full of oil splatter"
        " | tough meat | a bitter aftertaste",
        tip="salt the pasta water generously | let the dough rest overnight | preheat the pan properly"
        " | taste as you go | toast the spices first | use a kitchen scale | rest the meat before cutting"
        " | add acid at the end | chill the cookie dough | rinse the rice until the water runs clear"
        " | keep the heat at medium | deglaze the pan with a splash of wine | read the whole recipe first"
        " | freeze leftovers in small portions | sharpen your knife",
    ),
    _topic(
        "travel",
        "travel and trips",
        thing="carry-on bag | night train | hostel dorm | travel insurance | window seat | packing cubes"
        " | road trip playlist | rental car | city pass | layover | jet lag | street food market | ferry ride"
        " | hiking trail map | travel journal | beach town | mountain cabin | budget airline | visa paperwork"
        " | local bus network | guesthouse | sunrise viewpoint | walking tour | souvenir shop | rail pass",
        act="travel solo for the first time | plan a road trip | pack light for two weeks | find cheap flights"
        " | travel with kids | learn a few phrases before a trip | avoid tourist traps | sleep on a long flight"
        " | plan a weekend getaway | travel on a tight budget | go backpacking | book a last minute trip"
        " | explore a city on foot | survive a long layover",
        qual="completely exhausting | totally worth it | way overpriced | super relaxing | chaotic but fun"
        " | surprisingly cheap | really crowded | breathtaking | a bit overwhelming | peaceful",
        prob="a missed connection | lost luggage | a cancelled flight | a sketchy hostel | terrible jet lag"
        " | a surprise baggage fee | a dead phone battery | a sunburn on day one | motion sickness"
        " | a booking mix-up",
        tip="pack one outfit less than you think | book the first train of the day | keep a paper copy of your bookings"
        " | carry a refillable water bottle | walk everywhere on the first day | download offline maps"
        " | eat where the locals queue | leave a free afternoon in the plan | roll your clothes instead of folding them"
        " | check the baggage rules twice | get outside in daylight to beat jet lag | travel in the shoulder season",
    ),
    _topic(
        "fitness",
        "fitness and exercise",
        thing="morning run | squat form | resistance bands | rest days | protein shakes | yoga mat | couch to 5k plan"
        " | deadlifts | pull-up bar | step count | stretching routine | gym anxiety | running shoes | push-ups"
        " | interval training | foam roller | swimming laps | cycling class | kettlebell swings | posture"
        " | home workouts | heart rate zones | marathon training",
        act="start running | do a proper push-up | get back into the gym | build a home workout routine"
        " | stretch more | run a half marathon | lift heavier | stay consistent with exercise | fix my posture"
        " | train for a hiking trip | do my first pull-up | exercise before work | recover faster after leg day",
        qual="brutally hard | weirdly fun | way too easy | super sore | a little boring | energizing"
        " | totally manageable | exhausting | strangely addictive | painful",
        prob="shin splints | a sore lower back | zero motivation | a plateau | knee pain when I squat"
        " | cramps halfway through | a blister on my heel | burnout after two weeks | a stiff neck | skipped workouts",
        tip="warm up for five minutes first | add one rep per week | schedule workouts like meetings"
        " | sleep at least seven hours | keep your core tight | start with body weight | take a rest day"
        " | track your progress | slow down the lowering part | drink water before you feel thirsty"
        " | stretch after the workout | find a workout buddy | swap your running shoes regularly",
    ),
    _topic(
        "music",
        "music and instruments",
        thing="acoustic guitar | piano scales | vinyl collection | chord progressions | music theory"
        " | home recording setup | headphones | choir rehearsal | drum kit | concert tickets | ukulele"
        " | sheet music | metronome | bass lines | songwriting notebook | synthesizer | playlist"
        " | jazz standards | open mic night | violin lessons | vocal warmups | guitar pedals",
        act="learn guitar as an adult | write my first song | sing in front of people | read sheet music"
        " | practice every day | record a song at home | play by ear | get over stage fright"
        " | find new music | learn barre chords | join a band | memorize a piano piece | tune a guitar",
        qual="super catchy | really out of tune | painfully slow | beautiful | kind of repetitive"
        " | way too loud | haunting | upbeat | messy but fun | soothing",
        prob="sore fingertips | a buzzing string | a song stuck in my head | shaky hands on stage"
        " | a terrible recording | zero rhythm | a dead practice streak | cramped fingers"
        " | writer's block | a squeaky note",
        tip="practice slowly with a metronome | record yourself once a week | learn songs you actually love"
        " | keep practice sessions short | warm up your voice first | play along with recordings"
        " | break the piece into small sections | change your strings more often | hum the melody first"
        " | play for a friend before a crowd | focus on clean transitions | listen to the original a lot",
    ),
    _topic(
        "movies",
        "movies and shows",
        thing="horror movies | the season finale | subtitles | movie night | animated films | documentaries"
        " | plot twists | streaming subscriptions | a slow burn thriller | romantic comedies | the soundtrack"
        " | cliffhangers | sci-fi series | sitcom reruns | film festivals | the director's cut | spoilers"
        " | a miniseries | old black and white films | the opening credits | fan theories",
        act="find something good to watch | get into classic films | watch a whole series in a weekend"
        " | host a movie night | avoid spoilers | pick a movie everyone likes | write a film review"
        " | understand a confusing ending | get into anime | watch more documentaries | start a film club",
        qual="totally overrated | genuinely scary | beautifully shot | painfully slow | hilarious"
        " | confusing | heartbreaking | so predictable | underrated | a guilty pleasure",
        prob="a cliffhanger with no next season | a spoiler in the group chat | endless scrolling"
        " | a plot hole | a disappointing finale | falling asleep halfway | bad subtitles"
        " | a cancelled show | a boring middle act | too many sequels",
        tip="watch the first three episodes before judging | turn on subtitles | mute the group chat"
        " | read a short review after watching | pick a theme for movie night | alternate who picks the film"
        " | give older films a real chance | keep a watchlist | watch without your phone nearby"
        " | try a genre you usually skip",
    ),
    _topic(
        "books",
        "books and reading",
        thing="fantasy series | audiobooks | book club | library card | reading slump | poetry collections"
        " | mystery novels | e-reader | the last chapter | classic literature | graphic novels"
        " | reading list | bookmarks | short stories | a thick biography | science fiction | used bookshops"
        " | annotated margins | memoirs | a cozy mystery",
        act="read more books | finish a long novel | start a book club | get back into reading"
        " | read before bed instead of scrolling | try audiobooks | read classics without getting bored"
        " | keep track of what I read | read in another language | find my next favorite book",
        qual="impossible to put down | slow at first | beautifully written | confusing | way too long"
        " | heartwarming | bleak | clever | forgettable | gripping",
        prob="a reading slump | too many unfinished books | a twist I saw coming | falling asleep after two pages"
        " | a boring middle section | an overdue library fine | a spoiled ending | too many characters to track"
        " | a cliffhanger ending | a book hangover",
        tip="read twenty pages a day | keep a book in your bag | give a book fifty pages"
        " | alternate long and short books"
        " | join a local book club | write one line about each book | switch to audiobooks on walks"
        " | reread a favorite when you're stuck | ask a librarian for picks | read on paper before bed",
    ),
    _topic(
        "gaming",
        "video games",
        thing="boss fight | open world games | co-op mode | speedruns | the skill tree | indie games"
        " | controller drift | cozy farming games | ranked matches | game saves | side quests"
        " | loot drops | the final level | retro consoles | puzzle games | the crafting system"
        " | patch notes | strategy games | the tutorial | multiplayer lobby | a new expansion",
        act="beat the final boss | get better at shooters | find a cozy game | play co-op with friends"
        " | stop rage quitting | build a gaming PC | finish my backlog | climb the ranked ladder"
        " | play games with my kids | learn speedrunning | stream my games",
        qual="ridiculously hard | relaxing | super grindy | addictive | broken | beautifully designed"
        " | frustrating | unbalanced | charming | way too short",
        prob="lag spikes | a corrupted save | toxic teammates | a boss I can't beat | a huge backlog"
        " | a game that keeps crashing | motion sickness in first person games | controller drift"
        " | a paywall | a bugged quest",
        tip="take a break after three losses | lower the graphics settings | watch how good players move"
        " | learn one character really well | play the tutorial properly | back up your save files"
        " | mute voice chat when it gets toxic | set a timer for gaming sessions | explore every side path"
        " | practice the hard section in isolation",
    ),
    _topic(
        "pets",
        "pets and animals",
        thing="rescue dog | kitten | litter box | dog park | chew toys | fish tank | leash training"
        " | vet visits | hamster cage | cat tree | dog food | bird cage | grooming brush | puppy classes"
        " | flea treatment | scratching post | pet insurance | a senior cat | bearded dragon | rabbit hutch",
        act="adopt a dog | train my puppy | introduce two cats | keep my cat off the counter"
        " | walk my dog without pulling | get my pet used to the carrier | set up a fish tank"
        " | help my dog with separation anxiety | choose a good vet | trim my dog's nails",
        qual="super clingy | hilarious | destructive | gentle | anxious | full of energy"
        " | stubborn | adorable | lazy | curious",
        prob="chewed shoes | scratches on the couch | constant barking | accidents on the carpet"
        " | a picky eater | a pet that hates baths | fur everywhere | a dog that pulls on the leash"
        " | midnight zoomies | a scared cat hiding under the bed",
        tip="reward the behavior you want right away | keep training sessions short | give them a quiet hiding spot"
        " | stick to a feeding schedule | use treats during nail trims | tire them out with a long walk"
        " | leave the carrier out all the time | introduce new pets slowly | ask the vet about diet"
        " | rotate their toys every week",
    ),
    _topic(
        "career",
        "work and career",
        thing="job interview | performance review | resume | cover letter | remote work | salary negotiation"
        " | team meetings | career change | side project | promotion | my manager | networking events"
        " | a job offer | LinkedIn profile | internship | burnout | work emails | a new role | office politics"
        " | a toxic workplace | freelancing",
        act="ask for a raise | prepare for an interview | switch careers | write a better resume"
        " | set boundaries at work | get promoted | start freelancing | quit my job gracefully"
        " | speak up in meetings | find a mentor | work from home productively | handle a difficult coworker",
        qual="super stressful | kind of boring | exciting | exhausting | a great opportunity | awkward"
        " | surprisingly fun | overwhelming | unfair | rewarding",
        prob="a lowball offer | a rejection email | too many meetings | an impossible deadline"
        " | a manager who micromanages | imposter syndrome | a gap in my resume | constant overtime"
        " | a ghosted application | an awkward reference call",
        tip="write down your wins every week | practice answers out loud | research the salary range first"
        " | ask one question in every meeting | block focus time on your calendar | reach out to former colleagues"
        " | keep your resume to one page | sleep on big decisions | say no to one thing this week"
        " | ask for feedback early",
    ),
    _topic(
        "study",
        "school and studying",
        thing="final exams | study group | flashcards | essay deadline | calculus homework | lecture notes"
        " | chemistry lab | group project | the library | study playlist | practice tests | the syllabus"
        " | thesis | a pop quiz | online course | textbook | office hours | a scholarship application"
        " | math anxiety | language homework",
        act="study for finals | stop procrastinating | take better notes | write an essay faster"
        " | remember what I read | pass statistics | focus for more than ten minutes | prepare for a presentation"
        " | manage my time during exams | get better grades | learn a new subject on my own",
        qual="completely confusing | way too long | easier than I thought | stressful | boring"
        " | actually interesting | impossible | manageable | overwhelming | useful",
        prob="a blank page | a failed quiz | all-nighters | a group member who does nothing"
        " | too many tabs open | test anxiety | a missed deadline | notes I can't read | a tough professor"
        " | forgetting everything the next day",
        tip="study in short blocks with breaks | explain the topic to someone else | start with the hardest task"
        " | put your phone in another room | rewrite your notes in your own words | do practice questions early"
        " | go to office hours | make a simple study calendar | test yourself instead of rereading"
        " | sleep before the exam",
    ),
    _topic(
        "tech",
        "technology help",
        thing="laptop battery | wifi router | password manager | phone storage | cloud backup | smart speaker"
        " | browser tabs | printer driver | bluetooth headphones | screen time | old hard drive"
        " | two-factor codes | software update | spreadsheet formulas | video calls | home network"
        " | mechanical keyboard | tablet | smart watch | photo library",
        act="speed up my laptop | back up my photos | set up a password manager | fix slow wifi"
        " | learn to code | clean up my phone storage | protect my accounts | build a website"
        " | connect my printer | choose a new laptop | use spreadsheets properly | reduce screen time",
        qual="painfully slow | glitchy | super convenient | confusing | overpriced | reliable"
        " | outdated | frustrating | sleek | noisy",
        prob="a frozen screen | a storage full warning | a dead battery by noon | constant pop-ups"
        " | a printer that says offline | a forgotten password | dropped video calls | an update loop"
        " | a cracked screen | headphones that won't pair",
        tip="restart the router first | turn on automatic backups | close the apps you aren't using"
        " | update everything once a week | use a different password for each account | check the cables"
        " | clear the browser cache | turn on two-factor login | move old photos to the cloud"
        " | read the error message slowly",
    ),
    _topic(
        "money",
        "money and budgeting",
        thing="monthly budget | savings account | credit score | student loans | grocery bill | rent"
        " | emergency fund | subscriptions | retirement plan | impulse purchases | a spending tracker"
        " | side hustle | index funds | tax return | coupons | a big purchase | bank fees | holiday spending",
        act="save more money | stick to a budget | pay off debt | start investing | cut my grocery bill"
        " | plan for retirement | stop impulse buying | build an emergency fund | negotiate my bills"
        " | split costs with roommates | save for a trip",
        qual="really tight | scary | manageable | confusing | surprisingly easy | depressing"
        " | way higher than I expected | motivating | stressful | satisfying",
        prob="a surprise bill | an overdraft fee | too many subscriptions | a maxed out card"
        " | a rent increase | zero savings | a forgotten annual fee | a paycheck that vanishes"
        " | a confusing tax form | a friend who owes me money",
        tip="write down every purchase for a month | automate a small transfer on payday"
        " | cancel one subscription today"
        " | wait a day before buying anything big | cook at home three more nights | pay the smallest debt first"
        " | set a weekly spending limit | compare prices before you renew | keep a separate savings account"
        " | check your statements every week",
    ),
    _topic(
        "wellbeing",
        "stress and wellbeing",
        thing="sleep schedule | morning routine | anxiety | journaling | meditation app | screen time"
        " | therapy | weekend plans | self care | burnout | loneliness | breathing exercises | a gratitude list"
        " | social battery | daily walks | overthinking | a digital detox | panic at night",
        act="sleep better | stop overthinking | feel less lonely | build a morning routine | deal with stress"
        " | make new friends as an adult | stop doomscrolling | be kinder to myself | relax after work"
        " | start journaling | get out of a rut",
        qual="really heavy | calming | exhausting | hopeful | draining | a bit better | overwhelming"
        " | peaceful | strange | lighter",
        prob="racing thoughts at night | a Sunday evening dread | no energy at all | a bad week"
        " | a fight with a friend | a constant headache | too much caffeine | waking up at four"
        " | feeling on edge | a cancelled plan",
        tip="write three things down before bed | take a short walk outside | keep the phone out of the bedroom"
        " | breathe out longer than you breathe in | text one friend today | set a regular wake-up time"
        " | plan one small nice thing each day | talk to a professional if it lasts | drink some water"
        " | name the feeling out loud",
    ),
    _topic(
        "gardening",
        "gardening and plants",
        thing="tomato plants | houseplants | balcony garden | compost bin | succulents | raised beds"
        " | seed trays | monstera | herb garden | potting soil | watering can | fiddle leaf fig"
        " | vegetable patch | rose bushes | grow lights | fruit trees | mulch | orchids",
        act="keep houseplants alive | start a vegetable garden | grow herbs indoors | repot a plant"
        " | start composting | grow tomatoes on a balcony | propagate cuttings | get rid of pests naturally"
        " | plan a garden for spring | save seeds",
        qual="droopy | thriving | yellowing | leggy | lush | crispy at the edges | tiny | overwatered"
        " | healthy | sad looking",
        prob="yellow leaves | fungus gnats | root rot | aphids everywhere | a plant that won't flower"
        " | leggy seedlings | brown leaf tips | a slug invasion | mold on the soil | a sunburned succulent",
        tip="water only when the top inch is dry | move it closer to the window | use pots with drainage holes"
        " | wipe the leaves with soapy water | feed it once a month in summer | rotate the pot every week"
        " | let the cuttings root in water | add mulch around the base | plant in the evening"
        " | check under the leaves for bugs",
    ),
    _topic(
        "space",
        "space and astronomy",
        thing="the night sky | black holes | meteor showers | the moon landing | telescope | star charts"
        " | exoplanets | the northern lights | constellations | a solar eclipse | the space station"
        " | dark matter | Mars rovers | comets | light pollution | the big bang | nebulae",
        act="see the northern lights | start stargazing | understand black holes | photograph the moon"
        " | find constellations | pick a first telescope | watch a meteor shower | learn astronomy basics"
        " | spot the space station",
        qual="mind-blowing | humbling | confusing | gorgeous | faint | terrifying | beautiful | strange"
        " | incredible | cold",
        prob="cloudy nights | light pollution | a blurry telescope view | a neck cramp from looking up"
        " | a missed eclipse | a confusing star chart | dew on the lens | no idea where to point",
        tip="let your eyes adjust for twenty minutes | drive away from the city lights | use a red flashlight"
        " | start with binoculars | check the moon phase first | lie down on a blanket"
        " | use a star map app offline | look just beside faint objects | dress much warmer than you think",
    ),
    _topic(
        "history",
        "history",
        thing="ancient Rome | the printing press | medieval castles | the silk road | old maps | family history"
        " | the industrial revolution | pyramids | shipwrecks | ancient recipes | old letters | Viking longships"
        " | the Renaissance | museums | archaeology digs | forgotten inventions | lost cities",
        act="learn more about history | research my family tree | visit historical sites | read primary sources"
        " | understand why empires fall | make history fun for kids | remember historical dates",
        qual="fascinating | brutal | surprisingly modern | weird | tragic | impressive | mysterious"
        " | boring in school | inspiring | chaotic",
        prob="too many dates to memorize | conflicting sources | a dry textbook | a dead end in the family tree"
        " | a myth everyone believes | a boring museum audio guide",
        tip="follow one person's life through an era | visit the local museum | read a good historical novel"
        " | look at old maps side by side | ask older relatives for stories | compare two sources on one event"
        " | watch a documentary and then read about it | build a simple timeline",
    ),
    _topic(
        "relationships",
        "friends, family and dating",
        thing="first date | group chat | long distance relationship | family dinner | dating apps | wedding plans"
        " | an old friendship | a breakup | roommate rules | anniversary gift | in-laws | a crush"
        " | birthday party | a friend's advice | holiday plans | a difficult conversation",
        act="talk to my crush | make up after a fight | plan a surprise | set boundaries with family"
        " | keep a long distance relationship going | make friends in a new city | get over a breakup"
        " | say sorry properly | plan a great first date | handle a jealous friend",
        qual="awkward | sweet | complicated | tense | lovely | confusing | healthy | dramatic | really fun | hurtful",
        prob="a fight over text | mixed signals | a forgotten birthday | a friend who always cancels"
        " | a jealous partner | a silent treatment | a family argument at dinner | an awkward silence"
        " | being left on read",
        tip="talk in person instead of by text | listen before you answer | plan something small and thoughtful"
        " | say what you need clearly | give it a day before replying | ask them about their week"
        " | write down what you want to say | keep promises small and real",
    ),
    _topic(
        "writing",
        "writing and poetry",
        thing="short story | poem about the sea | novel draft | writing prompt | character names | plot outline"
        " | dialogue | opening line | fan fiction | haiku | journal entry | song lyrics | the villain"
        " | world building | the second act | a love letter | a eulogy",
        act="write a short story | finish my novel | write a poem for my mom | get better at dialogue"
        " | beat writer's block | write every day | create a believable villain | edit my own draft"
        " | write a toast for a wedding | start a blog",
        qual="flat | cheesy | moving | clunky | beautiful | too long | clever | rushed | vivid | bland",
        prob="writer's block | a saggy middle | wooden dialogue | too many adjectives | an ending that falls flat"
        " | a character with no motivation | a blank page | a draft I hate",
        tip="write badly first and fix it later | read your dialogue out loud | cut the first paragraph"
        " | give the villain a good reason | write at the same time every day | set a timer for ten minutes"
        " | describe one small detail instead of everything | end scenes a little early | let the draft rest a week",
    ),
    _topic(
        "sports",
        "sports and teams",
        thing="the playoffs | fantasy league | pickup basketball | tennis serve | the derby | season tickets"
        " | swimming technique | rock climbing gym | soccer practice | the transfer window | golf swing"
        " | the referee | home games | the underdog team | a penalty shootout | ski season",
        act="get better at tennis | join a local team | understand the offside rule | improve my golf swing"
        " | start climbing | coach my kid's team | watch more games live | win my fantasy league",
        qual="nerve-racking | unbelievable | boring | intense | unfair | thrilling | sloppy | legendary"
        " | embarrassing | close",
        prob="a blown call | a losing streak | a pulled hamstring | a terrible first serve | an injury timeout"
        " | a fantasy team full of injuries | stage fright before a match",
        tip="focus on footwork first | film yourself playing | warm up properly | learn from the losses"
        " | practice one skill at a time | watch the game from the cheap seats | play against better people",
    ),
)

TOPIC_BY_ID = {topic.topic_id: topic for topic in TOPICS}

# Shared slots used by every topic: time expressions, people in the user's life, feelings, discourse
# markers and reactions. Like the topic banks they avoid names, digits and places.
GENERIC: dict[str, tuple[str, ...]] = {
    "time": _bank(
        "last weekend | yesterday | this morning | a few days ago | last night | over the holidays | since last month"
        " | earlier today | the other day | two weeks ago | every evening | on sunday | after work | during lunch"
        " | all week | since spring | this year | last summer | over the weekend | lately | tonight | before bed"
        " | on my commute | since january | this semester | during the break | for a while now | once in a while"
        " | right after dinner | at midnight"
    ),
    "soon": _bank(
        "this week | tomorrow | next time | over the weekend | tonight | before the end of the month | today"
        " | in the morning | after your next break | on your day off"
    ),
    "rel": _bank(
        "my sister | my brother | my roommate | my best friend | my mom | my dad | my partner | my boss"
        " | my coworker | my neighbor | my cousin | my grandma | my kid | my teacher | my coach | my husband"
        " | my wife | my girlfriend | my boyfriend | a friend from school | my team lead | my flatmate | my uncle"
        " | my aunt | my son | my daughter"
    ),
    "feel": _bank(
        "stressed | excited | nervous | curious | bored | tired | overwhelmed | hopeful | frustrated | proud"
        " | confused | anxious | happy | restless | motivated | stuck | lonely | relieved | impatient | grateful"
    ),
    "hedge": _bank(
        "honestly | to be fair | I guess | tbh | ok so | so basically | anyway | well | funny thing is"
        " | not gonna lie | weirdly enough | long story short | the thing is | real talk | I mean | actually"
    ),
    "react": _bank(
        "interesting | so helpful | wild | fair | good to know | really cool | kind of genius | a lot to take in"
        " | exactly what I needed | not what I expected | pretty smart | super useful"
    ),
    "ack": _bank(
        "That makes sense | I hear you | Fair enough | Oh, I love that | That sounds tough | Good call"
        " | Ooh, nice | I totally get it | That's a great thing to ask about | Oh no | Ha, relatable"
        " | That's exciting | Honestly, same | You're not alone in that"
    ),
    "normal": _bank(
        "totally normal | more common than you think | easy to fix | nothing to worry about"
        " | a classic beginner thing | part of the process | something everyone goes through | very fixable"
    ),
    "praise": _bank(
        "a great start | worth a try | a smart move | half the fun | a good sign | a great idea | a lovely goal"
        " | really exciting"
    ),
}
