"""Protobuf messages as JSON for the HTTP edge: pydantic models made from the descriptors, parsing into
messages, and the messages' JSON form.

The models are generated at import time from the descriptors of `movierec.v1.recommender_pb2`, so a
field added to the proto is validated and documented (the OpenAPI document) with no change here:
each scalar becomes int / float / str / bool (integers range-checked to their width), `repeated` a
list, `map` a dict, a message a nested model, an enum a Literal of its value names, and a field with
presence (`optional`, messages) may also be null. The descriptions come from the comments in the
`.proto` file beside the generated code.

Reading takes what a proto3 JSON writer (protobuf's json_format, for one) writes with its usual
options: a field under its proto name (`user_id`) or its lowerCamelCase JSON name (`userId`, the
mapping's default), a 64-bit integer as a JSON number or a decimal string (`"1"`, as the mapping
writes them), enums by name. Beyond that the models are strict, where a proto3 JSON parser would be
lenient: an unknown field is an error (a misspelt field is not silently ignored), so is a key given
twice in one object or a field given under both its names (which value would count?), `"5"` is not
a 32-bit integer, `1` is not `true`, an enum's number is not its name, and a number must be finite.

The JSON form written is proto3's, with the proto field names (snake_case), enums by name and floats
in their shortest form that reads back to the same float32. Two choices where proto3 JSON leaves
one: every field without presence is written, defaults included (a client reads `"year": 0` and
`"movies": []` instead of knowing the defaults), and 64-bit integers are JSON numbers, not strings
(the ids here are far below 2**53, up to where JavaScript's numbers are exact; proto3 JSON parsers
read both).
"""

from __future__ import annotations

import base64
import difflib
import json
import keyword
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, Optional, cast

import numpy as np
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor
from google.protobuf.message import Message
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from movierec.diagnostics import InvalidArgument
from movierec.v1 import recommender_pb2 as pb

FD = FieldDescriptor
# Integer types: (OpenAPI format or None, least value, greatest value).
_INTEGERS: dict[int, tuple[str | None, int, int]] = {
    **dict.fromkeys((FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32), ("int32", -(2**31), 2**31 - 1)),
    **dict.fromkeys((FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64), ("int64", -(2**63), 2**63 - 1)),
    **dict.fromkeys((FD.TYPE_UINT32, FD.TYPE_FIXED32), (None, 0, 2**32 - 1)),
    **dict.fromkeys((FD.TYPE_UINT64, FD.TYPE_FIXED64), (None, 0, 2**64 - 1)),
}
_WIDE = {FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64, FD.TYPE_UINT64, FD.TYPE_FIXED64}
FLOAT32_MAX = 3.4028234663852886e38
# What a JSON body of a request may weigh: gRPC's default limit on a received message.
MAX_BODY_BYTES = 4 * 2**20


# -- the .proto file's comments ----------------------------------------------------------------------
_BLOCK = re.compile(r"^\s*(message|enum|service)\s+(\w+)\s*\{(\s*\})?")
_FIELD = re.compile(r"^\s*(?:(?:optional|repeated)\s+)?(?:map\s*<[^>]*>|[\w.]+)\s+(\w+)\s*=\s*\d+")
_ENUM_VALUE = re.compile(r"^\s*(\w+)\s*=\s*-?\d+")
_RPC = re.compile(r"^\s*rpc\s+(\w+)\s*\(")


def proto_comments(path: Path, package: str) -> dict[str, str]:
    """The comment before (or, for a field or enum value, after) each definition of a .proto file, by
    full name ("movierec.v1.RecommendRequest.prompt"). A small reader for the layout `protoc` accepts
    and this repository writes (one definition a line); anything it does not recognise gets no
    comment. Empty when the file is missing (the models just lack descriptions)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    comments: dict[str, str] = {}
    scope: list[str] = [package]
    pending: list[str] = []
    for line in lines:
        code, _, trailing = line.partition("//")
        if not code.strip():
            if trailing or line.strip().startswith("//"):
                pending.append(trailing.removeprefix(" ").rstrip())
            else:
                pending = []  # a blank line ends a comment block
            continue
        name = None
        if block := _BLOCK.match(code):
            name = ".".join([*scope, block.group(2)])
            if not block.group(3):
                scope.append(block.group(2))
        elif code.strip() == "}" and len(scope) > 1:
            scope.pop()
        elif matched := _RPC.match(code) or _FIELD.match(code) or _ENUM_VALUE.match(code):
            name = ".".join([*scope, matched.group(1)])
        if name is not None:
            text = [*pending, trailing.strip()] if trailing.strip() else pending
            if text:
                comments[name] = "\n".join(text).strip()
        pending = []
    return comments


COMMENTS = proto_comments(Path(pb.__file__).with_name(Path(pb.DESCRIPTOR.name).name), pb.DESCRIPTOR.package)


# -- the models ------------------------------------------------------------------------------------
def _enum(field: FieldDescriptor) -> EnumDescriptor:
    assert field.enum_type is not None, field.full_name
    return field.enum_type


def _message(field: FieldDescriptor) -> Descriptor:
    assert field.message_type is not None, field.full_name
    return field.message_type


def _model_name(descriptor: Descriptor) -> str:
    """ "movierec.v1.Turn" -> "Turn"; a nested message "movierec.v1.A.B" -> "A_B"."""
    return descriptor.full_name.removeprefix(descriptor.file.package + ".").replace(".", "_")


def _enum_description(enum: EnumDescriptor) -> str:
    """Each value's comment, keyed here by the enum's name and the value's (protobuf scopes a value
    beside its enum, but the comment is read inside the enum's block)."""
    comments = ((v.name, COMMENTS.get(f"{enum.full_name}.{v.name}")) for v in enum.values)
    return "\n".join(f"{name}: {comment}" for name, comment in comments if comment)


_DECIMAL = re.compile(r"-?[0-9]{1,40}")  # a 64-bit integer's text, with room for a too-big one to be out of range


def _decimal_text(value: Any) -> Any:
    """A 64-bit integer given as a decimal string, as proto3 JSON writes them, read as the integer; any
    other value stays as it came, for the strict check after this."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    return value


def _one_name_each(pairs: list[tuple[str, str]]) -> Callable[[type[BaseModel], Any], Any]:
    """A model's before-validator refusing a field given under both of its names (proto name, JSON name):
    one of the two values would be dropped without a word."""

    def check(cls: type[BaseModel], data: Any) -> Any:
        if isinstance(data, dict):
            for name, json_name in pairs:
                if name in data and json_name in data:
                    raise PydanticCustomError(
                        "given_twice",
                        "{name} is given twice, as {name} and {json_name}",
                        {"name": name, "json_name": json_name},
                    )
        return data

    return check


class _Models:
    """One pydantic model per message type of a file, made on first use (nested ones with it)."""

    def __init__(self) -> None:
        self.models: dict[str, type[BaseModel]] = {}
        self.fields: dict[type[BaseModel], dict[str, type[BaseModel] | None]] = {}  # a model's fields -> nested model
        self.json_names: dict[type[BaseModel], dict[str, str]] = {}  # a model's lowerCamelCase names -> proto names
        self._building: set[str] = set()

    def model(self, descriptor: Descriptor) -> type[BaseModel]:
        if descriptor.full_name not in self.models:
            self._build(descriptor)
            for model in list(self.models.values()):  # resolves the names a cycle of messages left as strings
                if not model.__pydantic_complete__:
                    model.model_rebuild(_types_namespace={m.__name__: m for m in self.models.values()})
        return self.models[descriptor.full_name]

    def _nested(self, descriptor: Descriptor) -> Any:
        if descriptor.full_name in self._building:
            return _model_name(descriptor)  # a message that contains itself: a forward reference
        if descriptor.full_name not in self.models:
            self._build(descriptor)
        return self.models[descriptor.full_name]

    def _value_type(self, field: FieldDescriptor, *, map_key: bool = False) -> Any:
        """The type of one value of `field` (an element, for a repeated field)."""
        if field.type in _INTEGERS:
            fmt, least, greatest = _INTEGERS[field.type]
            bounds = Field(ge=least, le=greatest, json_schema_extra={"format": fmt} if fmt else None)
            if map_key:  # A JSON object's keys are strings: a map's integer keys are read from them (not strict).
                return Annotated[int, bounds]
            if field.type in _WIDE:
                # Numbers or decimal strings (proto3 JSON writes 64-bit integers as strings); the schema of
                # a request says both, that of a response (serialization mode: what is written) numbers.
                number = {"type": "integer", "minimum": least, "maximum": greatest, **({"format": fmt} if fmt else {})}
                text = {"type": "string", "pattern": "^-?[0-9]+$" if least < 0 else "^[0-9]+$"}
                return Annotated[
                    int,
                    Strict(),
                    bounds,
                    BeforeValidator(_decimal_text),
                    WithJsonSchema({"anyOf": [number, text]}, mode="validation"),
                ]
            return Annotated[int, Strict(), bounds]
        if field.type == FD.TYPE_FLOAT:
            return Annotated[
                float,
                Strict(),
                Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX, allow_inf_nan=False, json_schema_extra={"format": "float"}),
            ]
        if field.type == FD.TYPE_DOUBLE:
            return Annotated[float, Strict(), Field(allow_inf_nan=False, json_schema_extra={"format": "double"})]
        if field.type == FD.TYPE_BOOL:
            return bool if map_key else Annotated[bool, Strict()]
        if field.type == FD.TYPE_STRING:
            return Annotated[str, Strict()]
        if field.type == FD.TYPE_BYTES:
            return Annotated[str, Strict(), Field(json_schema_extra={"format": "byte"})]  # base64
        if field.type == FD.TYPE_ENUM:
            return Literal.__getitem__(tuple(v.name for v in _enum(field).values))
        if _message(field).full_name.startswith("google.protobuf."):
            return Any  # a well-known type: its JSON form is json_format's to check
        return self._nested(_message(field))

    def _field(self, field: FieldDescriptor) -> tuple[Any, dict[str, Any], type[BaseModel] | None]:
        """(annotation, the pydantic Field's arguments, the nested model if a message) of one proto field."""
        description = COMMENTS.get(field.full_name)
        if field.type == FD.TYPE_ENUM and (values := _enum_description(_enum(field))):
            description = f"{description}\n\n{values}" if description else values
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            annotation: Any = dict[self._value_type(key, map_key=True), self._value_type(value)]  # type: ignore[misc]
            default: dict[str, Any] = {"default_factory": dict}
        elif field.is_repeated:
            annotation = list[self._value_type(field)]  # type: ignore[misc]
            default = {"default_factory": list}
        else:
            annotation = self._value_type(field)
            if field.has_presence:
                annotation = Optional[annotation]  # noqa: UP045  (a runtime type, not an annotation)
                default = {"default": None}
            elif field.type == FD.TYPE_ENUM:
                default = {"default": _enum(field).values_by_number[0].name}
            else:
                default = {"default": field.default_value}
        default["description"] = description
        nested = None  # the model of a message field (or element), for naming the fields around an error
        if field.message_type is not None and not field.message_type.GetOptions().map_entry:
            nested = self.models.get(field.message_type.full_name)
        return annotation, default, nested

    def _build(self, descriptor: Descriptor) -> None:
        self._building.add(descriptor.full_name)
        definitions: dict[str, Any] = {}
        nested: dict[str, type[BaseModel] | None] = {}
        json_names: dict[str, str] = {}
        for field in descriptor.fields:
            annotation, arguments, inner = self._field(field)
            python_name = field.name
            # A proto name that pydantic or Python reserves gets a Python name and keeps its JSON name.
            if (
                keyword.iskeyword(field.name)
                or field.name.startswith(("_", "model_"))
                or hasattr(BaseModel, field.name)
            ):
                python_name = field.name + "_"
                arguments["alias"] = field.name
            # Read under the proto name or the lowerCamelCase JSON name; written (and documented) under
            # the proto name.
            if field.json_name != field.name:
                arguments["validation_alias"] = AliasChoices(field.name, field.json_name)
                json_names[field.json_name] = field.name
            definitions[python_name] = (annotation, Field(**arguments))
            nested[field.name] = inner
        validators: dict[str, Any] = {}
        if json_names:
            check = _one_name_each([(name, json_name) for json_name, name in json_names.items()])
            validators["one_name_each"] = model_validator(mode="before")(check)
        model = create_model(  # type: ignore[call-overload]
            _model_name(descriptor),
            __doc__=COMMENTS.get(descriptor.full_name) or descriptor.full_name,
            __config__=ConfigDict(extra="forbid", title=_model_name(descriptor)),
            __validators__=validators,
            **definitions,
        )
        self.models[descriptor.full_name] = model
        self.fields[model] = nested
        self.json_names[model] = json_names
        self._building.discard(descriptor.full_name)


_MODELS = _Models()


def model_for(message_type: type[Message] | Descriptor) -> type[BaseModel]:
    """The pydantic model of a message type (or its descriptor)."""
    descriptor = message_type if isinstance(message_type, Descriptor) else message_type.DESCRIPTOR
    return _MODELS.model(cast(Descriptor, descriptor))


def all_models(file: FileDescriptor = pb.DESCRIPTOR) -> list[type[BaseModel]]:
    """Every message type's model of a file, in the file's order."""
    return [model_for(d) for d in file.message_types_by_name.values()]


# -- JSON -> message -------------------------------------------------------------------------------
_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _json_kind(value: Any) -> str:
    """How a JSON value reads in a message: null, true, the number 3.5, the string "x", a list, an object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"the string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, list | tuple):
        return "a list"
    return "an object"


def _where(loc: Iterable[int | str]) -> str:
    """("conversation", 0, "role") -> "conversation[0].role"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the message that `loc` (a path of field names and list indices) is inside."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, str) and current is not None:
            part = _MODELS.json_names.get(current, {}).get(part, part)  # a field given by its JSON name
            current = _MODELS.fields.get(current, {}).get(part)
    return list(_MODELS.fields.get(current, {})) if current is not None else []


def explain(error: ValidationError, model: type[BaseModel], names: dict[str, str] | None = None) -> str:
    """A person's reading of pydantic's errors (at most three): which field, what was expected, what
    came. `names` renames fields in the text (a query parameter called otherwise than its field)."""
    parts = []
    for e in error.errors(include_url=False)[:3]:
        loc = tuple(e["loc"])
        where = _where((names or {}).get(str(p), p) if i == 0 else p for i, p in enumerate(loc))
        prefix = f"{where}: " if where else ""
        kind, given = e["type"], e.get("input")
        if kind == "json_invalid":
            parts.append(f"the body is not valid JSON ({e['ctx']['error']})")
        elif kind == "extra_forbidden":
            known = _fields_at(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})" if known else ""
            parts.append(f"{prefix}unknown field{hint}")
        elif kind in _EXPECTED:
            parts.append(f"{prefix}expected {_EXPECTED[kind]}, got {_json_kind(given)}")
        elif kind == "literal_error":
            parts.append(f"{prefix}expected one of {e['ctx']['expected']}, got {_json_kind(given)}")
        elif kind in ("greater_than_equal", "less_than_equal"):
            bound = e["ctx"].get("ge", e["ctx"].get("le"))
            side = "at least" if kind == "greater_than_equal" else "at most"
            parts.append(f"{prefix}out of range: {given} (this field holds {side} {bound})")
        else:
            parts.append(f"{prefix}{e['msg']}")
    if len(error.errors()) > 3:
        parts.append(f"and {len(error.errors()) - 3} more")
    return "; ".join(parts)


def _invalid(message_type: type[Message], reason: str) -> InvalidArgument:
    return InvalidArgument(f"request is not a valid {message_type.DESCRIPTOR.full_name}: {reason}")


def _to_message(message_type: type[Message], data: dict[str, Any]) -> Message:
    """The message of validated JSON data. json_format checks what the models leave to it (base64,
    well-known types, one field of a oneof)."""
    try:
        return json_format.ParseDict(data, message_type())
    except (json_format.ParseError, ValueError, TypeError) as e:
        raise _invalid(message_type, str(e)) from None


class _KeyGivenTwice(ValueError):
    """A JSON object with the same key twice."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice: which value would count is a guess (the last,
    here; json_format refuses it too)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _KeyGivenTwice(key)
        data[key] = value
    return data


class _NotJson(ValueError):
    """A word Python's JSON reader takes that JSON does not have."""


def _not_json(name: str) -> NoReturn:
    """Python's JSON reader takes NaN and Infinity; JSON has no such words."""
    raise _NotJson(f"{name} is not a JSON value")


def parse_json(body: bytes, message_type: type[Message]) -> Message:
    """A request message from a JSON body; InvalidArgument (the one error map: 400) naming what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _invalid(
            message_type, f"the body is not UTF-8 text (byte {body[e.start]:#04x} at offset {e.start})"
        ) from None
    if not text.strip():
        raise _invalid(message_type, "the body is empty; send a JSON object ({} asks for all the defaults)")
    try:
        data = json.loads(text, object_pairs_hook=_object, parse_constant=_not_json)
    except _KeyGivenTwice as e:
        shown = e.key if len(e.key) <= 40 else e.key[:40] + "..."
        raise _invalid(
            message_type, f"the key {json.dumps(shown, ensure_ascii=False)} is given twice in one object"
        ) from None
    except RecursionError:
        raise _invalid(message_type, "the body is not valid JSON (nested too deeply)") from None
    except json.JSONDecodeError as e:
        raise _invalid(message_type, f"the body is not valid JSON ({e})") from None
    except _NotJson as e:
        raise _invalid(message_type, f"the body is not valid JSON ({e})") from None
    except ValueError:  # an integer with more digits than Python reads (sys.get_int_max_str_digits)
        raise _invalid(message_type, "the body has a number with more digits than can be read") from None
    model = model_for(message_type)
    try:
        validated = model.model_validate(data)
    except ValidationError as e:
        raise _invalid(message_type, explain(e, model)) from None
    return _to_message(message_type, validated.model_dump(mode="json", by_alias=True, exclude_unset=True))


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,40}")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _scalar_from_text(field: FieldDescriptor, text: str) -> Any:
    """A query or path parameter's text as the field's JSON value (the model checks the range). Digits are
    ASCII's: int() and float() also read other scripts' digits (an Arabic-Indic or a full-width five as 5),
    which no client means by a number."""
    if field.type in _INTEGERS:
        if not _INTEGER_TEXT.fullmatch(text):
            raise ValueError("an integer")
        return int(text)
    if field.type in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        if not _NUMBER_TEXT.fullmatch(text):
            raise ValueError("a number")
        return float(text)
    if field.type == FD.TYPE_BOOL:
        if text.lower() not in ("true", "false"):
            raise ValueError("true or false")
        return text.lower() == "true"
    if field.type == FD.TYPE_MESSAGE:
        raise ValueError("a message, which a parameter cannot carry")
    return text


def parse_params(params: Iterable[tuple[str, str]], message_type: type[Message], names: dict[str, str]) -> Message:
    """A request message from path and query parameters: (parameter, text) pairs, `names` the parameters
    accepted (parameter -> field). A repeated field may be given several times; an unknown parameter, a
    field given twice or text of the wrong type is InvalidArgument."""
    descriptor = message_type.DESCRIPTOR
    data: dict[str, Any] = {}
    for param, text in params:
        field = descriptor.fields_by_name.get(names.get(param, ""))
        if field is None:
            close = difflib.get_close_matches(param, list(names), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(names)})" if names else ""
            raise _invalid(message_type, f"unknown parameter {param!r}{hint}")
        try:
            value = _scalar_from_text(cast(FieldDescriptor, field), text)
        except ValueError as e:
            raise _invalid(message_type, f"{param}: expected {e}, got {_json_kind(text)}") from None
        if field.is_repeated:
            data.setdefault(field.name, []).append(value)
        elif field.name in data:
            raise _invalid(message_type, f"{param} is given twice")
        else:
            data[field.name] = value
    model = model_for(message_type)
    try:
        validated = model.model_validate(data)
    except ValidationError as e:
        raise _invalid(message_type, explain(e, model, {field: param for param, field in names.items()})) from None
    return _to_message(message_type, validated.model_dump(mode="json", by_alias=True, exclude_unset=True))


# -- message -> JSON -------------------------------------------------------------------------------
def _float32(value: float) -> float | str:
    """The shortest decimal that reads back as the same float32, as json_format writes floats (numpy's
    float32 prints exactly that, in one step, where json_format tries 6 to 9 digits in turn)."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return float(str(np.float32(value)))


def _double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


Encoder = Callable[[Message], dict[str, Any]]
_ENCODERS: dict[str, Encoder] = {}


def _value_encoder(field: FieldDescriptor) -> Callable[[Any], Any] | None:
    """How one value of `field` becomes JSON; None: as it is (integers, strings, booleans)."""
    if field.type == FD.TYPE_FLOAT:
        return _float32
    if field.type == FD.TYPE_DOUBLE:
        return _double
    if field.type == FD.TYPE_BYTES:
        return lambda value: base64.b64encode(value).decode("ascii")
    if field.type == FD.TYPE_ENUM:
        names = {v.number: v.name for v in _enum(field).values}
        return lambda value: names.get(value, value)  # a number this code does not know stays a number
    if field.type == FD.TYPE_MESSAGE:
        inner = _message(field)
        if inner.full_name.startswith("google.protobuf."):
            return lambda value: json_format.MessageToDict(value, preserving_proto_field_name=True)
        return lambda value: encoder_for(inner)(value)
    return None


def _map_key(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def encoder_for(descriptor: Descriptor) -> Encoder:
    """A function message -> JSON dict, made once per message type from its descriptor."""
    if descriptor.full_name in _ENCODERS:
        return _ENCODERS[descriptor.full_name]
    plan: list[tuple[str, str, Callable[[Any], Any] | None]] = []
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            string_keys = field.message_type.fields_by_name["key"].type == FD.TYPE_STRING
            plan.append(
                (
                    field.name,
                    "map" if string_keys else "keyed map",
                    _value_encoder(field.message_type.fields_by_name["value"]),
                )
            )
        elif field.is_repeated:
            plan.append((field.name, "list", _value_encoder(field)))
        else:
            plan.append((field.name, "present" if field.has_presence else "always", _value_encoder(field)))

    def encode(message: Message) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, kind, convert in plan:
            if kind == "present" and not message.HasField(name):
                continue
            value = getattr(message, name)
            if kind == "map":
                out[name] = {k: convert(v) for k, v in value.items()} if convert else dict(value)
            elif kind == "keyed map":  # JSON keys are strings
                out[name] = {_map_key(k): convert(v) if convert else v for k, v in value.items()}
            elif kind == "list":
                out[name] = [convert(v) for v in value] if convert else list(value)
            else:
                out[name] = convert(value) if convert else value
        return out

    _ENCODERS[descriptor.full_name] = encode
    return encode


def to_dict(message: Message) -> dict[str, Any]:
    """The message's JSON form as a dict (see the module's docstring)."""
    return encoder_for(cast(Descriptor, message.DESCRIPTOR))(message)


# "<", ">" and "&" are escaped inside strings, so a response is inert even where it is mistaken for
# HTML or pasted into a page's script; JSON.parse reads the same text back.
_INERT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of a dict of JSON values, with <, > and & escaped."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).translate(_INERT).encode()


def to_json(message: Message) -> bytes:
    """The message as the bytes of an HTTP response body."""
    return dumps(to_dict(message))
