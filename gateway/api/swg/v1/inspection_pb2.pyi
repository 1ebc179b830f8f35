import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from gateway.api.swg.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InspectionOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSPECTION_OUTCOME_UNSPECIFIED: _ClassVar[InspectionOutcome]
    INSPECTION_OUTCOME_RELEASE: _ClassVar[InspectionOutcome]
    INSPECTION_OUTCOME_HOLD_FOR_INSPECTION: _ClassVar[InspectionOutcome]
    INSPECTION_OUTCOME_REQUEST_FOR_INFORMATION: _ClassVar[InspectionOutcome]
    INSPECTION_OUTCOME_REQUEST_FOR_SCREENING: _ClassVar[InspectionOutcome]
    INSPECTION_OUTCOME_DO_NOT_LOAD: _ClassVar[InspectionOutcome]
    INSPECTION_OUTCOME_SEIZE: _ClassVar[InspectionOutcome]
    INSPECTION_OUTCOME_RETURN_TO_SENDER: _ClassVar[InspectionOutcome]
    INSPECTION_OUTCOME_DUTIES_ASSESSED: _ClassVar[InspectionOutcome]
INSPECTION_OUTCOME_UNSPECIFIED: InspectionOutcome
INSPECTION_OUTCOME_RELEASE: InspectionOutcome
INSPECTION_OUTCOME_HOLD_FOR_INSPECTION: InspectionOutcome
INSPECTION_OUTCOME_REQUEST_FOR_INFORMATION: InspectionOutcome
INSPECTION_OUTCOME_REQUEST_FOR_SCREENING: InspectionOutcome
INSPECTION_OUTCOME_DO_NOT_LOAD: InspectionOutcome
INSPECTION_OUTCOME_SEIZE: InspectionOutcome
INSPECTION_OUTCOME_RETURN_TO_SENDER: InspectionOutcome
INSPECTION_OUTCOME_DUTIES_ASSESSED: InspectionOutcome

class DecisionReason(_message.Message):
    __slots__ = ("code", "text")
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    code: str
    text: str
    def __init__(self, code: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Tax(_message.Message):
    __slots__ = ("type", "description", "amount", "rate", "hs_code")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    HS_CODE_FIELD_NUMBER: _ClassVar[int]
    type: str
    description: str
    amount: _common_pb2.Money
    rate: str
    hs_code: str
    def __init__(self, type: _Optional[str] = ..., description: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., rate: _Optional[str] = ..., hs_code: _Optional[str] = ...) -> None: ...

class ContentRevision(_message.Message):
    __slots__ = ("content_index", "revised_description", "revised_hs_code", "import_restrictions")
    CONTENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    REVISED_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REVISED_HS_CODE_FIELD_NUMBER: _ClassVar[int]
    IMPORT_RESTRICTIONS_FIELD_NUMBER: _ClassVar[int]
    content_index: int
    revised_description: str
    revised_hs_code: str
    import_restrictions: str
    def __init__(self, content_index: _Optional[int] = ..., revised_description: _Optional[str] = ..., revised_hs_code: _Optional[str] = ..., import_restrictions: _Optional[str] = ...) -> None: ...

class InspectionImage(_message.Message):
    __slots__ = ("uri", "sha256", "media_type")
    URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    uri: str
    sha256: bytes
    media_type: str
    def __init__(self, uri: _Optional[str] = ..., sha256: _Optional[bytes] = ..., media_type: _Optional[str] = ...) -> None: ...

class InspectionResult(_message.Message):
    __slots__ = ("item_id", "outcome", "reasons", "decided_at", "dutiable", "total_fee", "taxes", "revisions", "image", "customs_reference", "decision_code")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    DUTIABLE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEE_FIELD_NUMBER: _ClassVar[int]
    TAXES_FIELD_NUMBER: _ClassVar[int]
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMS_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DECISION_CODE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    outcome: InspectionOutcome
    reasons: _containers.RepeatedCompositeFieldContainer[DecisionReason]
    decided_at: _timestamp_pb2.Timestamp
    dutiable: bool
    total_fee: _common_pb2.Money
    taxes: _containers.RepeatedCompositeFieldContainer[Tax]
    revisions: _containers.RepeatedCompositeFieldContainer[ContentRevision]
    image: InspectionImage
    customs_reference: str
    decision_code: str
    def __init__(self, item_id: _Optional[str] = ..., outcome: _Optional[_Union[InspectionOutcome, str]] = ..., reasons: _Optional[_Iterable[_Union[DecisionReason, _Mapping]]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., dutiable: _Optional[bool] = ..., total_fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., taxes: _Optional[_Iterable[_Union[Tax, _Mapping]]] = ..., revisions: _Optional[_Iterable[_Union[ContentRevision, _Mapping]]] = ..., image: _Optional[_Union[InspectionImage, _Mapping]] = ..., customs_reference: _Optional[str] = ..., decision_code: _Optional[str] = ...) -> None: ...

class InspectionResultBatch(_message.Message):
    __slots__ = ("results", "batch_reference")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[InspectionResult]
    batch_reference: str
    def __init__(self, results: _Optional[_Iterable[_Union[InspectionResult, _Mapping]]] = ..., batch_reference: _Optional[str] = ...) -> None: ...
