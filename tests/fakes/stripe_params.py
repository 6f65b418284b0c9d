"""Request parameters checked as Stripe checks them, against the `stripe` package's own types.

stripe-python's `...CreateParams` TypedDicts are generated from Stripe's OpenAPI
specification, so walking their annotations gives every parameter name Stripe
knows, which ones are required, and the allowed values of enums. A misspelt or
unknown parameter is refused with Stripe's error shape, as the real API does.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Literal, NotRequired, Required, Union

import typing_extensions
from stripe._request_options import RequestOptions

from bot.donations.money import MAX_MINOR, MINIMUM_CHARGE

# Options the client sends as headers, never as form fields.
_REQUEST_OPTIONS = frozenset(RequestOptions.__annotations__)


@dataclass
class ParamError(Exception):
    """A refused request, with the fields of Stripe's `error` object."""

    message: str
    param: str | None = None
    code: str | None = None
    status: int = 400
    error_type: str = "invalid_request_error"
    should_retry: bool | None = None  # the Stripe-Should-Retry header, when set

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


@dataclass(frozen=True)
class Shape:
    """One parameter's accepted form: a scalar kind, an enum, a list, a map or an object."""

    kind: str  # "str" | "int" | "bool" | "decimal" | "enum" | "list" | "map" | "object" | "any"
    values: frozenset[str] = frozenset()
    item: Shape | None = None
    fields: dict[str, tuple[Shape, bool]] = field(default_factory=dict)  # name -> (shape, required)
    options: tuple[Shape, ...] = ()  # for a union: any one of these


_ANY = Shape("any")


def _resolve(annotation: Any, module: types.ModuleType) -> Any:
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        try:
            # The package's own type names, evaluated in the module that defines them.
            return eval(annotation, vars(module))
        except NameError:
            return None
    return annotation


def _shape(annotation: Any, module: types.ModuleType, depth: int = 0) -> Shape:
    annotation = _resolve(annotation, module)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is None or depth > 12:
        return _ANY
    if origin in (NotRequired, Required):
        return _shape(args[0], module, depth)
    if origin is Literal:
        return Shape("enum", values=frozenset(str(a) for a in args))
    if origin in (list, typing.List):  # noqa: UP006 - the generated code spells List
        return Shape("list", item=_shape(args[0], module, depth + 1))
    if origin in (dict, typing.Dict):  # noqa: UP006
        return Shape("map")
    if origin in (Union, types.UnionType):
        options = tuple(_shape(a, module, depth + 1) for a in args)
        if any(o.kind in {"map", "any"} for o in options):
            return Shape("map") if any(o.kind == "map" for o in options) else _ANY
        return Shape("union", options=options)
    simple = {str: "str", int: "int", bool: "bool", Decimal: "decimal", float: "decimal"}
    if annotation in simple:
        return Shape(simple[annotation])
    if isinstance(annotation, type) and typing_extensions.is_typeddict(annotation):
        return typed_dict_shape(annotation, depth + 1)
    return _ANY


def typed_dict_shape(params: type, depth: int = 0) -> Shape:
    """The object shape of a generated `...Params` TypedDict (request options left out)."""
    module = sys.modules[params.__module__]
    fields: dict[str, tuple[Shape, bool]] = {}
    for name, annotation in params.__annotations__.items():
        if name in _REQUEST_OPTIONS:
            continue
        required = typing.get_origin(_resolve(annotation, module)) is not NotRequired
        fields[name] = (_shape(annotation, module, depth), required)
    return Shape("object", fields=fields)


@cache
def shape_of(params: type) -> Shape:
    return typed_dict_shape(params)


def _scalar(shape: Shape, value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise ParamError(
            f"Invalid {shape.kind}: {value!r}", path, "parameter_invalid_" + shape.kind
        )
    if shape.kind == "int" and not value.lstrip("-").isdigit():
        raise ParamError(f"Invalid integer: {value}", path, "parameter_invalid_integer")
    if shape.kind == "bool" and value not in {"true", "false"}:
        raise ParamError(f"Invalid boolean: {value}", path, "parameter_invalid_boolean")
    if shape.kind == "decimal":
        try:
            Decimal(value)
        except InvalidOperation:
            raise ParamError(f"Invalid decimal: {value}", path, "invalid_decimal") from None
    if shape.kind == "enum" and value not in shape.values:
        allowed = ", ".join(sorted(shape.values))
        raise ParamError(f"Invalid {path}: must be one of {allowed}", path)


def check(shape: Shape, value: Any, path: str = "") -> None:
    """Raise ParamError for the first parameter Stripe would refuse."""
    if shape.kind == "any" or (shape.kind != "object" and value == ""):
        return  # an empty value unsets a field
    if shape.kind == "union":
        errors = []
        for option in shape.options:
            try:
                check(option, value, path)
            except ParamError as exc:
                errors.append(exc)
            else:
                return
        raise errors[0]
    if shape.kind == "map":
        if not isinstance(value, dict | str):
            raise ParamError(f"Invalid object: {path}", path, "parameter_invalid_object")
        return
    if shape.kind == "list":
        if not isinstance(value, list):
            raise ParamError(f"Invalid array: {path}", path, "parameter_invalid_array")
        assert shape.item is not None
        for i, item in enumerate(value):
            check(shape.item, item, f"{path}[{i}]")
        return
    if shape.kind == "object":
        _check_object(shape, value, path)
        return
    _scalar(shape, value, path)


def _check_object(shape: Shape, value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise ParamError(f"Invalid object: {path}", path or None, "parameter_invalid_object")
    for name, item in value.items():
        where = f"{path}[{name}]" if path else name
        if name not in shape.fields:
            raise ParamError(f"Received unknown parameter: {where}", where, "parameter_unknown")
        check(shape.fields[name][0], item, where)
    for name, (_, required) in shape.fields.items():
        if required and name not in value:
            where = f"{path}[{name}]" if path else name
            raise ParamError(f"Missing required param: {where}.", where, "parameter_missing")


# --- rules the types cannot say -------------------------------------------------------

_METADATA_KEYS, _METADATA_KEY_LEN, _METADATA_VALUE_LEN = 50, 40, 500


def check_metadata(metadata: Any, path: str) -> None:
    """Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500."""
    if not isinstance(metadata, dict):
        return
    if len(metadata) > _METADATA_KEYS:
        raise ParamError(f"Invalid {path}: at most 50 keys", path, "parameter_invalid_metadata")
    for key, value in metadata.items():
        if len(key) > _METADATA_KEY_LEN or len(str(value)) > _METADATA_VALUE_LEN:
            where = f"{path}[{key}]"
            raise ParamError(
                f"Invalid {where}: keys are at most 40 characters, values at most 500",
                where,
                "parameter_invalid_metadata",
            )


def check_currency(currency: Any, path: str) -> str:
    if not isinstance(currency, str) or not re.fullmatch(r"[a-z]{3}", currency):
        raise ParamError(f"Invalid currency: {currency}.", path, "parameter_invalid_string")
    return currency


def check_amount(amount: int, currency: str, path: str, *, charge: bool) -> None:
    """Three-decimal amounts end in 0, ISK is whole krónur, and (for a charge) the
    currency's minimum; the table is the bot's (one place for Stripe's published figures)."""
    code = currency.upper()
    if code in {"BHD", "JOD", "KWD", "OMR", "TND"} and amount % 10:
        raise ParamError(
            f"Invalid amount: {currency} amounts must be a multiple of 10.", path, "amount_invalid"
        )
    if code == "ISK" and amount % 100:
        raise ParamError(
            "Invalid amount: isk amounts must be a multiple of 100.", path, "amount_invalid"
        )
    minimum = MINIMUM_CHARGE.get(code)
    if charge and minimum is not None and amount < minimum:
        raise ParamError(
            f"Amount must be at least {minimum} {currency} (in the smallest currency unit).",
            path,
            "amount_too_small",
        )
    if amount > MAX_MINOR:
        raise ParamError(
            f"Amount must be no more than {MAX_MINOR} {currency}.", path, "amount_too_large"
        )


def check_price_create(p: dict[str, Any]) -> None:
    """What Stripe refuses in POST /v1/prices beyond the parameter types."""
    currency = check_currency(p["currency"], "currency")
    if "product" not in p and "product_data" not in p:
        raise ParamError("Missing required param: product.", "product", "parameter_missing")
    given = [k for k in ("unit_amount", "unit_amount_decimal", "custom_unit_amount") if k in p]
    if len(given) != 1 and p.get("billing_scheme") != "tiered":
        raise ParamError(
            "Exactly one of unit_amount, unit_amount_decimal or custom_unit_amount is required.",
            given[1] if len(given) > 1 else "unit_amount",
        )
    if "unit_amount" in p:
        check_amount(int(p["unit_amount"]), currency, "unit_amount", charge=False)
    if "custom_unit_amount" in p:
        _check_custom_unit_amount(p, currency)
    check_metadata(p.get("metadata"), "metadata")


def _check_custom_unit_amount(p: dict[str, Any], currency: str) -> None:
    custom = p["custom_unit_amount"]
    if custom.get("enabled") != "true":
        raise ParamError("custom_unit_amount[enabled] must be true.", "custom_unit_amount[enabled]")
    if "recurring" in p:
        raise ParamError("custom_unit_amount is not supported for recurring prices.", "recurring")
    bounds = {k: int(custom[k]) for k in ("minimum", "maximum", "preset") if k in custom}
    for name, amount in bounds.items():
        check_amount(amount, currency, f"custom_unit_amount[{name}]", charge=True)
    low, high = bounds.get("minimum", 0), bounds.get("maximum", MAX_MINOR)
    if low > high:
        raise ParamError(
            "custom_unit_amount[minimum] must be no more than custom_unit_amount[maximum].",
            "custom_unit_amount[minimum]",
        )
    if "preset" in bounds and not low <= bounds["preset"] <= high:
        raise ParamError(
            "custom_unit_amount[preset] must be between the minimum and the maximum.",
            "custom_unit_amount[preset]",
        )


def check_session_create(p: dict[str, Any], price_of: Callable[[str, str], dict[str, Any]]) -> int:
    """What Stripe refuses in POST /v1/checkout/sessions beyond the parameter types;
    the session's known total (0 when the donor chooses the amount)."""
    mode = p.get("mode")
    if mode not in {"payment", "setup", "subscription"}:
        raise ParamError(
            "Invalid mode: must be one of payment, setup, or subscription",
            "mode",
            "parameter_missing" if mode is None else "parameter_invalid_string",
        )
    if "success_url" not in p and p.get("ui_mode", "hosted") == "hosted":
        raise ParamError("Missing required param: success_url.", "success_url", "parameter_missing")
    for name, allowed in (
        ("payment_intent_data", "payment"),
        ("subscription_data", "subscription"),
        ("submit_type", "payment"),
    ):
        if name in p and mode != allowed:
            raise ParamError(f"You can only specify `{name}` in `{allowed}` mode.", name)
    items = p.get("line_items") or []
    if mode != "setup" and not items:
        raise ParamError("Missing required param: line_items.", "line_items", "parameter_missing")
    total, recurring, currencies = 0, False, set()
    for i, item in enumerate(items):
        amount, currency, is_recurring = _line_item(item, f"line_items[{i}]", price_of)
        total += amount * int(item.get("quantity", 1))
        recurring |= is_recurring
        currencies.add(currency)
        if is_recurring and mode != "subscription":
            raise ParamError(
                "You must be in `subscription` mode to use recurring prices.", f"line_items[{i}]"
            )
    if mode == "subscription" and not recurring:
        raise ParamError("`subscription` mode needs at least one recurring price.", "line_items")
    if len(currencies) > 1:
        raise ParamError("All line items must have the same currency.", "line_items")
    if total and currencies:
        check_amount(total, currencies.pop(), "line_items", charge=True)
    check_metadata(p.get("metadata"), "metadata")
    for nested in ("payment_intent_data", "subscription_data"):
        check_metadata((p.get(nested) or {}).get("metadata"), f"{nested}[metadata]")
    return total


def _line_item(
    item: dict[str, Any], path: str, price_of: Callable[[str, str], dict[str, Any]]
) -> tuple[int, str, bool]:
    if ("price" in item) == ("price_data" in item):
        raise ParamError(f"You must specify either `price` or `price_data` in {path}.", path)
    if "quantity" not in item:
        raise ParamError(
            f"Missing required param: {path}[quantity].", f"{path}[quantity]", "parameter_missing"
        )
    if "price" in item:
        price = price_of(item["price"], f"{path}[price]")
        if not price["active"]:
            raise ParamError(f"The price specified is inactive: {price['id']}", f"{path}[price]")
        return int(price["unit_amount"] or 0), price["currency"], price["recurring"] is not None
    data = item["price_data"]
    where = f"{path}[price_data]"
    currency = check_currency(data["currency"], f"{where}[currency]")
    if "product" not in data and "product_data" not in data:
        raise ParamError(
            f"Missing required param: {where}[product_data].",
            f"{where}[product_data]",
            "parameter_missing",
        )
    if "unit_amount" not in data:
        raise ParamError(
            f"Missing required param: {where}[unit_amount].",
            f"{where}[unit_amount]",
            "parameter_missing",
        )
    amount = int(data["unit_amount"])
    check_amount(amount, currency, f"{where}[unit_amount]", charge=False)
    return amount, currency, "recurring" in data
