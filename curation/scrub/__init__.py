"""PII scrubbing that fails closed: detection (presidio + spaCy + chat recognizers), replacement with
consistent placeholders or surrogates, and the leak scan that guards releases.

Import the submodules (`curation.scrub.scrubber`, `curation.scrub.leak_gate`, ...): this package module
stays light so that importing it never loads presidio or spaCy.
"""
