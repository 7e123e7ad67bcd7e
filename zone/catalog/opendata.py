"""Open-data catalog fields of a dataset (公共数据开放目录 and 数据资产登记).

The open-data rules publish, per dataset, who opens it (开放主体, the responsible provider), how
far it is opened (开放等级) and how (开放模式); asset registration (数据资产登记) adds a
registration record. In the metadata::

    open_data:
      open_level: conditional          # open | conditional | authorized_operation | closed
      open_mode: privacy computing in the data zone
      responsible_provider: Municipal market supervision bureau
      registration:
        id: "DA-2026-000123"
        registered_on: "2026-03-01"
        certificate_digest: "sha256:<64 hex>"

``closed`` datasets serve no product: a set of products that reads one is refused at load or
reload. The section is optional and omitted from the canonical JSON when absent, so existing
versions are unchanged. All of it is public catalog information.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from zone.catalog._fields import STRICT_FROZEN, NonEmptyStr

OpenLevel = Literal["open", "conditional", "authorized_operation", "closed"]
OPEN_LEVELS: tuple[str, ...] = ("open", "conditional", "authorized_operation", "closed")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _iso_date(value: str) -> str:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD (quote it in YAML)") from None
    if len(value) != 10:
        raise ValueError("must be a date YYYY-MM-DD (quote it in YAML)")
    return value


def _digest(value: str) -> str:
    if not _DIGEST.fullmatch(value):
        raise ValueError("must be sha256:<64 lowercase hex digits>")
    return value


ShortText = Annotated[NonEmptyStr, Field(max_length=200)]


class Registration(BaseModel):
    """A data asset registration record (数据资产登记): its id, date and the certificate's digest.

    Attributes:
        id: The registration id the registry issued.
        registered_on: The registration date, YYYY-MM-DD.
        certificate_digest: ``sha256:`` and 64 hex digits of the registration certificate.
    """

    model_config = STRICT_FROZEN

    id: ShortText
    registered_on: Annotated[str, AfterValidator(_iso_date)]
    certificate_digest: Annotated[str, AfterValidator(_digest)]


class OpenData(BaseModel):
    """How a dataset is opened under the open-data rules (开放目录).

    Attributes:
        open_level: 开放等级: ``open``, ``conditional``, ``authorized_operation`` or ``closed``
            (a closed dataset serves no product: products reading it are refused at start and
            at reload).
        open_mode: 开放模式: how the data is opened (free text, shown in the catalog).
        responsible_provider: 开放主体: who is responsible for opening it.
        registration: The data asset registration record, if registered.
    """

    model_config = STRICT_FROZEN

    open_level: OpenLevel
    open_mode: ShortText
    responsible_provider: ShortText
    registration: Registration | None = Field(default=None, exclude_if=lambda value: value is None)
