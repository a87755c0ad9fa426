"""Secret values kept apart from the objects role cluster_apply applies (k8s_apply.split_secret_values, filter
vip_split_secrets; tasks/preflight.yml), then put back by prepare() from k8s_apply_set's secret_string_data.
A Secret's data is base64 and stringData wins on the same key (k8s.io/api v0.31.0, kubernetes v1.31.0's,
core/v1/types.go Secret.StringData: "merged into the data field on write, overwriting any existing values")."""
import base64

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.vip.plugins.filter.manifests import FilterModule
from ansible_collections.baremetal.vip.plugins.module_utils import k8s_apply

PEER = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "r1", "namespace": "metallb-system"},
        "spec": {"peerAddress": "192.0.2.1", "password": None}}


def secret(name, namespace=None, data=None, string_data=None, **extra):
    meta = {"name": name, "labels": {"app": "x"}}
    if namespace is not None:
        meta["namespace"] = namespace
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": meta}
    if data is not None:
        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    if string_data is not None:
        obj["stringData"] = string_data
    obj.update(extra)
    return obj


def test_secrets_bare_of_values_others_untouched_in_order():
    objects = [PEER, secret("bgp", "metallb-system", data={"password": "s3cret-é"}, type="kubernetes.io/basic-auth",
                            immutable=True), secret("plain", string_data={"token": "t0ken"})]
    split = k8s_apply.split_secret_values(objects)
    assert split["objects"] == [
        PEER,
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
         "metadata": {"name": "bgp", "namespace": "metallb-system", "labels": {"app": "x"}}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "plain", "labels": {"app": "x"}}}]
    assert split["secret_values"] == {"metallb-system/bgp": {"password": "s3cret-é"}, "default/plain": {"token": "t0ken"}}
    assert "s3cret" not in repr(split["objects"]) and "t0ken" not in repr(split["objects"])


def test_string_data_wins_over_data_and_a_secret_without_values_has_none():
    objects = [secret("both", "ns", data={"a": "from-data", "b": "kept"}, string_data={"a": "from-stringData"}),
               secret("empty", "ns")]
    assert k8s_apply.split_secret_values(objects)["secret_values"] == {
        "ns/both": {"a": "from-stringData", "b": "kept"}, "ns/empty": {}}


def test_values_put_back_by_prepare_are_the_originals():
    original = secret("bgp", "metallb-system", data={"password": "p"})
    split = k8s_apply.split_secret_values([original])
    prepared = k8s_apply.prepare(split["objects"], "lab", secret_string_data=split["secret_values"])
    assert prepared[0]["stringData"] == {"password": "p"} and "data" not in prepared[0]


def test_no_objects():
    assert k8s_apply.split_secret_values([]) == {"objects": [], "secret_values": {}}


def test_data_not_base64_names_secret_and_key_never_the_value():
    bad = secret("bgp", "metallb-system")
    bad["data"] = {"password": "abc"}  # incorrect padding
    with pytest.raises(ValueError) as err:
        k8s_apply.split_secret_values([bad])
    assert str(err.value) == "Secret metallb-system/bgp: data.password is not base64"
    with pytest.raises(AnsibleFilterError) as err:
        FilterModule().filters()["vip_split_secrets"]([bad])
    assert "abc" not in str(err.value) and "metallb-system/bgp" in str(err.value)


def test_the_filter():
    split = FilterModule().filters()["vip_split_secrets"]([secret("s", "ns", data={"k": "v"})])
    assert split["secret_values"] == {"ns/s": {"k": "v"}} and "data" not in split["objects"][0]
