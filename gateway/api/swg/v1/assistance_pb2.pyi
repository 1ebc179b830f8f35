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

class AssistanceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSISTANCE_TYPE_UNSPECIFIED: _ClassVar[AssistanceType]
    ASSISTANCE_TYPE_INFORMATION_ON_GOODS: _ClassVar[AssistanceType]
    ASSISTANCE_TYPE_INFORMATION_ON_PERSONS: _ClassVar[AssistanceType]
    ASSISTANCE_TYPE_INFORMATION_ON_MEANS_OF_TRANSPORT: _ClassVar[AssistanceType]
    ASSISTANCE_TYPE_VERIFICATION_OF_DOCUMENTS: _ClassVar[AssistanceType]
    ASSISTANCE_TYPE_SPONTANEOUS: _ClassVar[AssistanceType]

class Urgency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    URGENCY_UNSPECIFIED: _ClassVar[Urgency]
    URGENCY_NORMAL: _ClassVar[Urgency]
    URGENCY_URGENT: _ClassVar[Urgency]
    URGENCY_IMMEDIATE: _ClassVar[Urgency]

class Confidentiality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIDENTIALITY_UNSPECIFIED: _ClassVar[Confidentiality]
    CONFIDENTIALITY_RESTRICTED: _ClassVar[Confidentiality]
    CONFIDENTIALITY_CONFIDENTIAL: _ClassVar[Confidentiality]
    CONFIDENTIALITY_SECRET: _ClassVar[Confidentiality]

class AssistanceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSISTANCE_STATUS_UNSPECIFIED: _ClassVar[AssistanceStatus]
    ASSISTANCE_STATUS_ANSWERED: _ClassVar[AssistanceStatus]
    ASSISTANCE_STATUS_PARTIALLY_ANSWERED: _ClassVar[AssistanceStatus]
    ASSISTANCE_STATUS_REFUSED: _ClassVar[AssistanceStatus]
    ASSISTANCE_STATUS_POSTPONED: _ClassVar[AssistanceStatus]
ASSISTANCE_TYPE_UNSPECIFIED: AssistanceType
ASSISTANCE_TYPE_INFORMATION_ON_GOODS: AssistanceType
ASSISTANCE_TYPE_INFORMATION_ON_PERSONS: AssistanceType
ASSISTANCE_TYPE_INFORMATION_ON_MEANS_OF_TRANSPORT: AssistanceType
ASSISTANCE_TYPE_VERIFICATION_OF_DOCUMENTS: AssistanceType
ASSISTANCE_TYPE_SPONTANEOUS: AssistanceType
URGENCY_UNSPECIFIED: Urgency
URGENCY_NORMAL: Urgency
URGENCY_URGENT: Urgency
URGENCY_IMMEDIATE: Urgency
CONFIDENTIALITY_UNSPECIFIED: Confidentiality
CONFIDENTIALITY_RESTRICTED: Confidentiality
CONFIDENTIALITY_CONFIDENTIAL: Confidentiality
CONFIDENTIALITY_SECRET: Confidentiality
ASSISTANCE_STATUS_UNSPECIFIED: AssistanceStatus
ASSISTANCE_STATUS_ANSWERED: AssistanceStatus
ASSISTANCE_STATUS_PARTIALLY_ANSWERED: AssistanceStatus
ASSISTANCE_STATUS_REFUSED: AssistanceStatus
ASSISTANCE_STATUS_POSTPONED: AssistanceStatus

class Officer(_message.Message):
    __slots__ = ("name", "officer_id", "email", "unit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    officer_id: str
    email: str
    unit: str
    def __init__(self, name: _Optional[str] = ..., officer_id: _Optional[str] = ..., email: _Optional[str] = ..., unit: _Optional[str] = ...) -> None: ...

class Subject(_message.Message):
    __slots__ = ("item_ids", "person_name", "tax_ids", "address", "description")
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    PERSON_NAME_FIELD_NUMBER: _ClassVar[int]
    TAX_IDS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    person_name: str
    tax_ids: _containers.RepeatedCompositeFieldContainer[_common_pb2.TaxId]
    address: _common_pb2.Address
    description: str
    def __init__(self, item_ids: _Optional[_Iterable[str]] = ..., person_name: _Optional[str] = ..., tax_ids: _Optional[_Iterable[_Union[_common_pb2.TaxId, _Mapping]]] = ..., address: _Optional[_Union[_common_pb2.Address, _Mapping]] = ..., description: _Optional[str] = ...) -> None: ...

class AssistanceRequest(_message.Message):
    __slots__ = ("requesting_administration", "requested_administration", "agreement_reference", "legal_basis", "assistance_type", "information_category", "subject", "purpose", "case_description", "subjects", "urgency", "deadline", "confidentiality", "permitted_use", "requesting_officer", "case_reference")
    REQUESTING_ADMINISTRATION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_ADMINISTRATION_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    ASSISTANCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    INFORMATION_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CASE_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENTIALITY_FIELD_NUMBER: _ClassVar[int]
    PERMITTED_USE_FIELD_NUMBER: _ClassVar[int]
    REQUESTING_OFFICER_FIELD_NUMBER: _ClassVar[int]
    CASE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    requesting_administration: str
    requested_administration: str
    agreement_reference: str
    legal_basis: str
    assistance_type: AssistanceType
    information_category: str
    subject: str
    purpose: str
    case_description: str
    subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    urgency: Urgency
    deadline: _timestamp_pb2.Timestamp
    confidentiality: Confidentiality
    permitted_use: str
    requesting_officer: Officer
    case_reference: str
    def __init__(self, requesting_administration: _Optional[str] = ..., requested_administration: _Optional[str] = ..., agreement_reference: _Optional[str] = ..., legal_basis: _Optional[str] = ..., assistance_type: _Optional[_Union[AssistanceType, str]] = ..., information_category: _Optional[str] = ..., subject: _Optional[str] = ..., purpose: _Optional[str] = ..., case_description: _Optional[str] = ..., subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ..., urgency: _Optional[_Union[Urgency, str]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confidentiality: _Optional[_Union[Confidentiality, str]] = ..., permitted_use: _Optional[str] = ..., requesting_officer: _Optional[_Union[Officer, _Mapping]] = ..., case_reference: _Optional[str] = ...) -> None: ...

class AssistanceResponse(_message.Message):
    __slots__ = ("requesting_administration", "requested_administration", "agreement_reference", "status", "answer", "findings", "refusal_reason", "confidentiality", "permitted_use", "answering_officer", "answered_at", "case_reference")
    REQUESTING_ADMINISTRATION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_ADMINISTRATION_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    CONFIDENTIALITY_FIELD_NUMBER: _ClassVar[int]
    PERMITTED_USE_FIELD_NUMBER: _ClassVar[int]
    ANSWERING_OFFICER_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    CASE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    requesting_administration: str
    requested_administration: str
    agreement_reference: str
    status: AssistanceStatus
    answer: str
    findings: _containers.RepeatedCompositeFieldContainer[Subject]
    refusal_reason: str
    confidentiality: Confidentiality
    permitted_use: str
    answering_officer: Officer
    answered_at: _timestamp_pb2.Timestamp
    case_reference: str
    def __init__(self, requesting_administration: _Optional[str] = ..., requested_administration: _Optional[str] = ..., agreement_reference: _Optional[str] = ..., status: _Optional[_Union[AssistanceStatus, str]] = ..., answer: _Optional[str] = ..., findings: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ..., refusal_reason: _Optional[str] = ..., confidentiality: _Optional[_Union[Confidentiality, str]] = ..., permitted_use: _Optional[str] = ..., answering_officer: _Optional[_Union[Officer, _Mapping]] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., case_reference: _Optional[str] = ...) -> None: ...
