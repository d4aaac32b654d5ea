"""Together the mutation modules give every rule of the catalogue a mutation of an ideal stack that fails it."""

from tests.rules import test_ideal_mutations_reliability as reliability
from tests.rules import test_ideal_mutations_security_ops as security_ops
from tests.rules.mutation_harness import RULES


def test_every_rule_in_the_catalogue_has_a_mutation():
    covered = {m.rule_id for m in (*reliability.MUTATIONS, *security_ops.MUTATIONS)}
    assert sorted(set(RULES) - covered) == []
    assert covered <= set(RULES)
