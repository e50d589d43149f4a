"""Chinese named-entity recognition (PER, LOC, ORG): models and the serving app."""

from ner_inference.entities import ENTITY_TYPES, Entity, EntityType

__all__ = ["ENTITY_TYPES", "Entity", "EntityType"]
__version__ = "0.1.0"
