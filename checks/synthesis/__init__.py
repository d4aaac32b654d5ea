"""Synthesis of CDK apps into cloud assemblies, with cdk-nag and construct source lines recorded.

:func:`synthesize_app` runs any CDK app directory the way ``cdk synth`` does;
:func:`synthesize_references` builds stackgrade's reference systems, several
per worker process. Python apps run under ``runner.py`` in their own
environment, which adds the cdk-nag packs (2 or 3, whichever is installed) and
writes ``stackgrade-synth.json`` (:data:`checks.engines.SYNTH_RECORD`) into
the assembly; :func:`read_record` and :func:`source_of` read it back.
"""

from checks.engines import DEFAULT_NAG_PACKS
from checks.synthesis.app_config import AppInputError
from checks.synthesis.record import RecordError, read_record, source_of
from checks.synthesis.synth import SynthError, Synthesized, synthesize_app, synthesize_references

__all__ = [
    "DEFAULT_NAG_PACKS", "AppInputError", "RecordError", "SynthError", "Synthesized",
    "read_record", "source_of", "synthesize_app", "synthesize_references",
]
