"""Contract enums. Values are the database's spellings, so resolvers can return raw column
values and graphql-core maps them to names without building Enum members."""

from enum import Enum
from typing import TypeVar, cast

import strawberry

E = TypeVar("E", bound=Enum)


def raw(enum: type[E], value: str) -> E:
    """A column value given to a field typed as `enum`, as it is (see above): the one place the
    types are told so."""
    return cast(E, value)


@strawberry.enum
class AssetType(Enum):
    CHARACTER = "character"
    LOCATION = "location"
    PROP = "prop"


@strawberry.enum(description="How a scene asset appears within one shot.")
class PresenceType(Enum):
    THROUGHOUT = strawberry.enum_value(
        "throughout", description="Present for the whole shot: in the start frame and the end frame."
    )
    ENTERS = strawberry.enum_value(
        "enters", description="Not visible at the start, appears during the shot: end frame only."
    )
    EXITS = strawberry.enum_value(
        "exits", description="Visible at the start, leaves during the shot: start frame only."
    )
    PASSES_THROUGH = strawberry.enum_value(
        "passes_through",
        description="Briefly visible mid-shot: in neither frame, described in the video prompt only.",
    )


@strawberry.enum
class StageStatus(Enum):
    DRAFT = "draft"
    LOCKED = "locked"
    OUTDATED = "outdated"


@strawberry.enum(description="Where inheritSceneAssets took a scene's asset states from.")
class InheritanceSource(Enum):
    BOOTSTRAP = strawberry.enum_value(
        "bootstrap",
        description="The branch's first scene: instances made from the locked project assets.",
    )
    PRIOR_SCENE = strawberry.enum_value(
        "prior_scene", description="Any later scene: instances made from the prior scene's instances."
    )


@strawberry.enum
class ImageJobType(Enum):
    MASTER_ASSET = "master_asset"
    SCENE_ASSET = "scene_asset"
    START_FRAME = "start_frame"
    END_FRAME = "end_frame"
    INPAINT = "inpaint"


@strawberry.enum
class ImageJobStatus(Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.enum
class TimeOfDay(Enum):
    DAY = "day"
    NIGHT = "night"
    DAWN = "dawn"
    DUSK = "dusk"


@strawberry.enum
class InheritFrom(Enum):
    LATEST = strawberry.enum_value(
        "latest", description="The asset's instance in the latest earlier scene of the branch that has one."
    )
    NONE = strawberry.enum_value("none", description="The project asset now, as a bootstrap does.")
