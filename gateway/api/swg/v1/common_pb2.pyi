from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaxIdType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAX_ID_TYPE_UNSPECIFIED: _ClassVar[TaxIdType]
    TAX_ID_TYPE_IOSS: _ClassVar[TaxIdType]
    TAX_ID_TYPE_VAT: _ClassVar[TaxIdType]
    TAX_ID_TYPE_EORI: _ClassVar[TaxIdType]
    TAX_ID_TYPE_OTHER: _ClassVar[TaxIdType]
TAX_ID_TYPE_UNSPECIFIED: TaxIdType
TAX_ID_TYPE_IOSS: TaxIdType
TAX_ID_TYPE_VAT: TaxIdType
TAX_ID_TYPE_EORI: TaxIdType
TAX_ID_TYPE_OTHER: TaxIdType

class Money(_message.Message):
    __slots__ = ("amount", "currency")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount: str
    currency: str
    def __init__(self, amount: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("line1", "line2", "city", "state", "postcode", "country_code")
    LINE1_FIELD_NUMBER: _ClassVar[int]
    LINE2_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POSTCODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    line1: str
    line2: str
    city: str
    state: str
    postcode: str
    country_code: str
    def __init__(self, line1: _Optional[str] = ..., line2: _Optional[str] = ..., city: _Optional[str] = ..., state: _Optional[str] = ..., postcode: _Optional[str] = ..., country_code: _Optional[str] = ...) -> None: ...

class TaxId(_message.Message):
    __slots__ = ("type", "value")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    type: TaxIdType
    value: str
    def __init__(self, type: _Optional[_Union[TaxIdType, str]] = ..., value: _Optional[str] = ...) -> None: ...

class Party(_message.Message):
    __slots__ = ("name", "first_name", "last_name", "address", "telephone", "fax", "email", "tax_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TELEPHONE_FIELD_NUMBER: _ClassVar[int]
    FAX_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    TAX_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    first_name: str
    last_name: str
    address: Address
    telephone: str
    fax: str
    email: str
    tax_ids: _containers.RepeatedCompositeFieldContainer[TaxId]
    def __init__(self, name: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., telephone: _Optional[str] = ..., fax: _Optional[str] = ..., email: _Optional[str] = ..., tax_ids: _Optional[_Iterable[_Union[TaxId, _Mapping]]] = ...) -> None: ...
