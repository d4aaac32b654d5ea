"""The five reference systems of stackgrade as CDK Python stacks, each ``ideal`` and ``baseline``."""

from reference_stacks.jsii_node import use_project_node

use_project_node()
