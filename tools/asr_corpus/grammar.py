"""The grammar of the small model's world: everyday requests over a few hundred words and the numbers 0-99.

A sentence is a template with slots; each slot draws from a word list. Sentences are written the way the model
must write them: first word capitalised, words separated by single spaces, ending in "." or "?". Numbers are
spelled out ("twenty three") because that is what espeak-ng says and what the model can hear.

Held-out sentences: a sentence belongs to the evaluation set when a hash of its text falls in a fixed 8 %
bucket, so no held-out sentence is ever spoken in training, whatever the sampling.
"""
from __future__ import annotations

import hashlib
import random
import re

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + ("" if ones == 0 else " " + ONES[ones])


LISTS: dict[str, list[str]] = {
    "person": ["my mother", "my father", "my sister", "my brother", "the doctor", "the dentist", "my friend", "the office",
               "the school", "my boss", "the plumber", "grandma", "grandpa", "my neighbour", "the bank", "the hotel"],
    "task": ["call my sister", "water the plants", "take out the trash", "buy some milk", "pay the rent",
             "feed the cat", "walk the dog", "book a table", "send the report", "pick up the kids", "clean the kitchen",
             "check the mail", "charge my phone", "lock the door", "wash the car", "read the letter", "cook dinner",
             "fix the bike", "visit my mother", "open the window"],
    "day": ["today", "tomorrow", "tonight", "on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday",
            "on Saturday", "on Sunday", "next week", "this weekend", "on Sunday morning", "on Friday evening",
            "tomorrow morning", "this afternoon"],
    "dayname": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "part": ["morning", "afternoon", "evening", "night"],
    "item": ["milk", "bread", "eggs", "butter", "cheese", "apples", "bananas", "oranges", "rice", "pasta", "coffee",
             "tea", "sugar", "salt", "onions", "potatoes", "tomatoes", "chicken", "fish", "soap", "water", "juice",
             "carrots", "lemons", "cookies", "yogurt", "flour", "honey", "beans", "grapes"],
    "adj": ["green", "red", "fresh", "small", "large", "sweet", "cold", "hot", "brown", "white", "yellow", "blue"],
    "city": ["London", "Paris", "Berlin", "Madrid", "Rome", "Tokyo", "Boston", "Chicago", "Dublin", "Vienna",
             "Sydney", "Toronto", "Denver", "Seattle", "Oslo", "Lisbon"],
    "device": ["lights", "heater", "fan", "radio", "television", "oven", "music", "alarm", "lamp", "air conditioner"],
    "room": ["kitchen", "living room", "bedroom", "bathroom", "garage", "office", "hallway", "garden"],
    "genre": ["jazz", "rock", "classical", "pop", "country", "blues", "dance", "quiet"],
    "color": ["red", "blue", "green", "yellow", "black", "white", "brown", "orange", "purple", "grey"],
    "object": ["book", "key", "phone", "bag", "cup", "pen", "box", "hat", "ball", "chair", "bottle", "lamp",
               "jacket", "wallet", "umbrella", "blanket"],
    "place": ["table", "shelf", "floor", "desk", "bed", "sofa", "counter", "chair", "window", "car"],
    "weather": ["sunny", "rainy", "cold", "warm", "windy", "cloudy", "hot", "snowy"],
    "unit": ["minutes", "seconds", "hours"],
    "relation": ["mother", "father", "sister", "brother", "uncle", "aunt", "cousin", "friend", "son", "daughter"],
    "feeling": ["happy", "tired", "hungry", "late", "busy", "ready", "home", "sorry"],
    "verb": ["need", "want", "like", "have", "see", "found", "lost", "bought"],
}

TEMPLATES = [
    "set a timer for {n} {unit}.",
    "set an alarm for {clock} {day}.",
    "remind me to {task} {day}.",
    "remind me to {task} at {clock}.",
    "call {person} {day}.",
    "call {person} at {clock}.",
    "add {item} to my shopping list.",
    "add {n} {item} to my shopping list.",
    "add {item} and {item} to my shopping list.",
    "please add {item}, {item} and {n} {adj} {item} to my shopping list.",
    "what is the weather like in {city} {day}?",
    "will it be {weather} in {city} {day}?",
    "it is {weather} in {city} today.",
    "turn on the {device} in the {room}.",
    "turn off the {device} in the {room}.",
    "play some {genre} music in the {room}.",
    "the meeting starts at {clock} on {dayname}.",
    "I will be there in {n} minutes.",
    "how much is {n} plus {n}?",
    "how much is {n} times {n}?",
    "my {relation} lives in {city}.",
    "the {color} {object} is on the {place}.",
    "where is my {color} {object}?",
    "book a table for {n} people at {clock}.",
    "water the plants on {dayname} {part}.",
    "I {verb} {n} {adj} {item}.",
    "I am {feeling} today.",
    "send a message to {person} saying I am {feeling}.",
    "the train to {city} leaves at {clock}.",
    "my {relation} will arrive in {city} {day}.",
]

WORD_RE = re.compile(r"[A-Za-z]+")


def clock(rng: random.Random) -> str:
    hour = rng.randint(1, 12)
    minute = rng.choice([0, 0, 5, 10, 15, 20, 30, 40, 45, 50])
    if minute == 0:
        return number_words(hour) + rng.choice([" o'clock", ""])
    return number_words(hour) + " " + number_words(minute)


def fill(template: str, rng: random.Random) -> str:
    def slot(m: re.Match) -> str:
        name = m.group(1)
        if name == "n":
            return number_words(rng.choice([rng.randint(2, 12), rng.randint(0, 99)]))
        if name == "clock":
            return clock(rng)
        return rng.choice(LISTS[name])

    text = re.sub(r"\{(\w+)\}", slot, template)
    text = text.replace(" o'clock", " oclock")  # one word for the tokenizer; espeak reads it the same
    return text[0].upper() + text[1:]


def is_held_out(sentence: str) -> bool:
    return hashlib.sha256(sentence.encode()).digest()[0] < 21  # ≈ 8 %


def sample(rng: random.Random, held_out: bool) -> str:
    while True:
        sentence = fill(rng.choice(TEMPLATES), rng)
        if is_held_out(sentence) == held_out:
            return sentence


def vocabulary() -> list[str]:
    """Every word the grammar can produce, lower-case and capitalised-first forms, plus punctuation-free forms."""
    words = set()
    for values in LISTS.values():
        for v in values:
            words.update(WORD_RE.findall(v))
    for t in TEMPLATES:
        words.update(WORD_RE.findall(re.sub(r"\{\w+\}", " ", t)))
    words.update(WORD_RE.findall(" ".join(ONES + TENS)))
    words.add("oclock")
    words.discard("")
    capitalised = {w[0].upper() + w[1:] for w in words}
    return sorted(words | capitalised | {"I"})


def spoken(sentence: str) -> str:
    """What espeak-ng reads: the written sentence with 'oclock' spelt as it is said."""
    return sentence.replace("oclock", "o'clock")


def normalize_for_wer(text: str) -> list[str]:
    return WORD_RE.findall(text.lower().replace("o'clock", "oclock"))
