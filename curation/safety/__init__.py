"""Safety classifiers over chat messages (docs/safety.md): an offline offensive-language model
(`alt-profanity-check`) and any local Hugging Face sequence-classification model (a Llama Guard-class
classifier on a GPU machine). `config` declares them, `classifiers` loads each once, `scorer` scores the
messages of a batch of conversations into rows of the `attributes/safety` table."""
