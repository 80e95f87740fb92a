"""Device-independent desired state derived from a line record and the catalog."""

from provisioner.intent.build import IntentRefused, build_intent
from provisioner.intent.models import ALL_FEATURES, DeviceIntent, Feature, Intent

__all__ = ["ALL_FEATURES", "DeviceIntent", "Feature", "Intent", "IntentRefused", "build_intent"]
