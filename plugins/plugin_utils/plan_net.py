# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan's maths: addresses, CIDRs and pool entries (netaddr), overlap and merge sweeps,
Kubernetes names (DNS-1123 labels and subdomains, qualified names, label values) and label selectors.

Pure functions; the ones that check user input append messages to an ``errors`` list.
"""

from __future__ import annotations

import re

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_schema import unknown_key_message
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import CONTROL_PLANE_LABEL, HOSTNAME_LABEL, SELECTOR_OPERATORS

try:
    import netaddr
except ImportError:  # pragma: no cover - exercised by the ansible-test import sanity test
    netaddr = None

# k8s.io/apimachinery/pkg/util/validation/validation.go (kubernetes v1.31.0): IsDNS1123Label (63),
# IsDNS1123Subdomain (253), IsQualifiedName (prefix '/' name of 63), IsValidLabelValue (63)
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_PART = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253


def is_dns1123_label(text):
    """A DNS-1123 label: at most 63 of lowercase letters, digits and '-', beginning and ending alphanumeric
    (namespace names, the cluster label)."""
    return len(text) <= DNS1123_LABEL_MAX and bool(_DNS1123_LABEL.match(text))


def is_dns1123_subdomain(text):
    """A DNS-1123 subdomain: dot-separated labels, at most 253 characters (Lease names, label key prefixes)."""
    return len(text) <= DNS1123_SUBDOMAIN_MAX and bool(_DNS1123_SUBDOMAIN.match(text))


def is_qualified_name(text):
    """An optional DNS-1123 subdomain and '/', then a name part of at most 63 (label keys, load balancer classes)."""
    prefix, sep, name = text.rpartition("/")
    return (not sep or bool(prefix) and is_dns1123_subdomain(prefix)) and is_label_value(name) and bool(name)


def is_label_value(text):
    """Empty, or at most 63 of letters, digits, '-', '_' and '.', beginning and ending alphanumeric."""
    return text == "" or (len(text) <= DNS1123_LABEL_MAX and bool(_NAME_PART.match(text)))


def family_of(version):
    """4 -> 'ipv4', 6 -> 'ipv6'."""
    return "ipv4" if version == 4 else "ipv6"


def parse_ip(text):
    """A single IPv4/IPv6 address (no prefix). Raises ValueError."""
    if not isinstance(text, str) or "/" in text:
        raise ValueError("not a single IP address")
    text = text.strip()
    try:
        return netaddr.IPAddress(text, 6 if ":" in text else 4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValueError("not an IP address") from None


def parse_prefix(text, allow_host=False):
    """'addr/len' -> (IPAddress, prefixlen, first, last) without building an IPNetwork (fast for IPv6).

    The address must be the network address (no host bits). With allow_host, a bare address is
    its /32 or /128. Raises ValueError.
    """
    if not isinstance(text, str):
        raise ValueError("not a CIDR string")
    addr, sep, plen_text = text.strip().partition("/")
    if not sep and not allow_host:
        raise ValueError("not a CIDR (expected address/prefix)")
    ip = parse_ip(addr.strip())
    bits = 32 if ip.version == 4 else 128
    if not sep:
        plen = bits
    elif plen_text.strip().isdigit() and int(plen_text) <= bits:
        plen = int(plen_text)
    else:
        raise ValueError("has an invalid prefix length (0..%d)" % bits)
    value = int(ip)
    hostmask = (1 << (bits - plen)) - 1
    if value & hostmask:
        raise ValueError("has host bits set (did you mean %s/%d?)" % (netaddr.IPAddress(value & ~hostmask, ip.version), plen))
    return ip, plen, value, value | hostmask


def parse_cidr(text, allow_host=False):
    """A netaddr.IPNetwork in CIDR form with no host bits (see parse_prefix). Raises ValueError."""
    ip, plen, _first, _last = parse_prefix(text, allow_host)
    return netaddr.IPNetwork("%s/%d" % (ip, plen))


def parse_pool_entry(text):
    """A pool entry: CIDR, single address, or 'first-last'. Returns (normalized, family, first, last, cidrs)."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    text = text.strip()
    if "-" in text:
        first_text, _sep, last_text = text.partition("-")
        first, last = parse_ip(first_text.strip()), parse_ip(last_text.strip())
        if first.version != last.version:
            raise ValueError("mixes IPv4 and IPv6")
        if first > last:
            raise ValueError("first address is after the last")
        cidrs = [str(c) for c in netaddr.iprange_to_cidrs(first, last)]
        return "%s-%s" % (first, last), first.version, int(first), int(last), cidrs
    ip, plen, first, last = parse_prefix(text, allow_host=True)
    norm = "%s/%d" % (ip, plen)
    return norm, ip.version, first, last, [norm]


def find_overlaps(intervals):
    """Overlapping pairs among ``intervals`` = [(family, first, last, label), ...].

    One sort, then a sweep that keeps the interval reaching furthest so far: O(n log n).
    Each interval that overlaps any other appears in at least one returned pair; the pairs are
    (later, earlier) by start address.
    """
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][0], intervals[i][1], intervals[i][2]))
    pairs = []
    holder = None
    for idx in order:
        fam, first, last = intervals[idx][0], intervals[idx][1], intervals[idx][2]
        if holder is not None and intervals[holder][0] == fam and first <= intervals[holder][2]:
            pairs.append((idx, holder))
            if last > intervals[holder][2]:
                holder = idx
        else:
            holder = idx
    return pairs


def merge_cidrs(entries):
    """The sorted, merged CIDR cover of ``entries`` = [(family, first, last, cidrs), ...] (like cidr_merge)."""
    result = []
    run = []
    run_last = None

    def flush():
        if len(run) == 1:
            result.extend(run[0][3])
        elif run:
            fam, first = run[0][0], run[0][1]
            cls = netaddr.IPAddress
            result.extend(str(c) for c in netaddr.iprange_to_cidrs(cls(first, fam), cls(run_last, fam)))

    for entry in sorted(entries, key=lambda e: (e[0], e[1], e[2])):
        if run and entry[0] == run[0][0] and entry[1] <= run_last + 1:
            run.append(entry)
            run_last = max(run_last, entry[2])
            continue
        flush()
        run, run_last = [entry], entry[2]
    flush()
    return result


def normalize_selectors(value, path, errors):
    """node_selectors: a list of LabelSelectors, or one dict of labels -> [{matchLabels: {...}}]."""
    if value is None or value == [] or value == {}:
        return []
    if isinstance(value, dict):
        if set(value) <= {"matchLabels", "matchExpressions"}:
            value = [value]
        else:
            value = [{"matchLabels": value}]
    if not isinstance(value, list):
        errors.append("%s must be a list of LabelSelectors or a dict of labels, got %r" % (path, value))
        return []
    result = []
    for spath, sel in _checked_dicts(value, path, ("matchLabels", "matchExpressions"),
                                     "a LabelSelector dict (matchLabels/matchExpressions)", errors):
        out = {}
        labels = sel.get("matchLabels")
        if labels is not None:
            if not isinstance(labels, dict):
                errors.append("%s.matchLabels must be a dict of label: value, got %r" % (spath, labels))
            else:
                out["matchLabels"] = {str(k): _label_text(v) for k, v in labels.items()}
                for key, value in out["matchLabels"].items():
                    _check_label(key, value, "%s.matchLabels" % spath, errors)
        exprs = sel.get("matchExpressions")
        if exprs is not None:
            out_exprs = _normalize_expressions(exprs, spath + ".matchExpressions", errors)
            if out_exprs:
                out["matchExpressions"] = out_exprs
        if out:
            if out in result:
                errors.append("%s repeats %s[%d]: MetalLB refuses duplicate selectors" % (spath, path, result.index(out)))
            result.append(out)
    return result


def _checked_dicts(items, path, allowed, expected, errors):
    """Yield (path, item) for each dict of ``items``; name every non-dict item and every key outside ``allowed``."""
    for i, item in enumerate(items):
        item_path = "%s[%d]" % (path, i)
        if not isinstance(item, dict):
            errors.append("%s must be %s, got %r" % (item_path, expected, item))
            continue
        for key in item:
            if key not in allowed:
                errors.append(unknown_key_message(item_path, key, allowed))
        yield item_path, item


def _label_text(value):
    """A label value as text; YAML booleans as Kubernetes writes them (true, not True)."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_label(key, value, path, errors):
    """Label key (optional DNS subdomain prefix '/' name) and value syntax (k8s.io/apimachinery validation)."""
    if not is_qualified_name(key):
        errors.append("%s: %r is not a valid label key (optional DNS subdomain prefix and '/', then at most 63 of "
                      "letters, digits, '-', '_', '.', beginning and ending alphanumeric)" % (path, key))
    if value is not None and not is_label_value(value):
        errors.append("%s: the value %r of %s is not a valid label value (at most 63 of letters, digits, '-', '_', "
                      "'.', beginning and ending alphanumeric)" % (path, value, key))


def _normalize_expressions(exprs, path, errors):
    if not isinstance(exprs, list):
        errors.append("%s must be a list, got %r" % (path, exprs))
        return []
    out = []
    for epath, expr in _checked_dicts(exprs, path, ("key", "operator", "values"),
                                      "a dict with key, operator, values", errors):
        operator = expr.get("operator")
        if operator not in SELECTOR_OPERATORS:
            errors.append("%s.operator is %r; expected one of %s" % (epath, operator, ", ".join(SELECTOR_OPERATORS)))
            continue
        values = expr.get("values") or []
        if not isinstance(values, list):
            errors.append("%s.values must be a list, got %r" % (epath, values))
            continue
        if operator in ("In", "NotIn") and not values:
            errors.append("%s: operator %s needs a non-empty values list" % (epath, operator))
        if operator in ("Exists", "DoesNotExist") and values:
            errors.append("%s: operator %s takes no values, got %r" % (epath, operator, values))
        item = {"key": str(expr.get("key", "")), "operator": operator}
        if not item["key"]:
            errors.append("%s.key is required" % epath)
        else:
            _check_label(item["key"], None, epath, errors)
        if values:
            item["values"] = [_label_text(v) for v in values]
            for value in item["values"]:
                _check_label(item["key"], value, epath, errors)
            if len(set(item["values"])) != len(item["values"]):
                errors.append("%s.values %r repeat a value: MetalLB refuses duplicate values" % (epath, item["values"]))
        if same_expression(item, out):
            errors.append("%s repeats an expression of %s: MetalLB refuses duplicate match expressions" % (epath, path))
        out.append(item)
    return out


def same_expression(expr, exprs):
    """True when ``exprs`` holds ``expr`` (values compared as sets, as MetalLB sorts them first)."""
    def key(e):
        return e["key"], e["operator"], tuple(sorted(e.get("values", [])))
    return any(key(e) == key(expr) for e in exprs)


def selectors_match(selectors, labels):
    """True/False when ``selectors`` (OR of LabelSelectors) can be decided from ``labels``; None if not."""
    if not selectors:
        return True
    undecided = False
    for sel in selectors:
        result = _selector_match(sel, labels)
        if result is True:
            return True
        if result is None:
            undecided = True
    return None if undecided else False


def _selector_match(sel, labels):
    for key, value in sel.get("matchLabels", {}).items():
        if key not in labels:
            return False if key in (HOSTNAME_LABEL, CONTROL_PLANE_LABEL) else None
        if labels[key] != value:
            return False
    for expr in sel.get("matchExpressions", []):
        key, operator = expr["key"], expr["operator"]
        if key not in labels:
            if operator in ("DoesNotExist", "NotIn") and key in (HOSTNAME_LABEL, CONTROL_PLANE_LABEL):
                continue
            if operator == "Exists" and key in (HOSTNAME_LABEL, CONTROL_PLANE_LABEL):
                return False
            if operator == "In" and key in (HOSTNAME_LABEL, CONTROL_PLANE_LABEL):
                return False
            return None
        value = labels[key]
        ok = {"In": value in expr.get("values", []), "NotIn": value not in expr.get("values", []),
              "Exists": True, "DoesNotExist": False}[operator]
        if not ok:
            return False
    return True
