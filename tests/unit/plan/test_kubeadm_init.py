"""What kubeadm_config_init_settings may not change (kubeadm_init.init_conflicts, filter vip_kubeadm_init_conflicts;
role kubeadm_config, tasks/validate_init.yml). extraArgs shapes: kubernetes v1.31.0
cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go (Arg, a list of {name, value}) and v1beta3/types.go (map[string]string);
kube-controller-manager refuses node-cidr-mask-size next to the per-family flags (kubernetes v1.31.0
cmd/kube-controller-manager/app/core.go setNodeCIDRMaskSizes)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.vip.plugins.filter.kubeadm import FilterModule
from ansible_collections.baremetal.vip.plugins.plugin_utils import kubeadm_init

MANAGER = "kubeadm_config_init_settings.ClusterConfiguration.controllerManager.extraArgs "
# As the role's vars/main.yml gives them once templated (the port stays a number, the version has two spellings).
OWNED = [
    {"kind": "InitConfiguration", "path": ["localAPIEndpoint", "bindPort"], "accept": [6443],
     "source": "the VIP's port (vip_control_plane.port)"},
    {"kind": "InitConfiguration", "path": ["nodeRegistration", "name"], "accept": ["cp1"],
     "source": "the plan's node name"},
    {"kind": "ClusterConfiguration", "path": ["kubernetesVersion"], "accept": ["v1.31.0", "1.31.0"],
     "source": "vip_cluster.kubernetes_version"},
    {"kind": "ClusterConfiguration", "path": ["networking", "podSubnet"], "accept": [""],
     "source": "vip_cluster.pod_cidrs"},
]


def conflicts(settings, manager_args=None, masks=None):
    return kubeadm_init.init_conflicts(settings, OWNED, manager_args, masks)


def test_nothing_set_or_the_same_values_accepted():
    assert conflicts({}) == []
    same = {"InitConfiguration": {"localAPIEndpoint": {"bindPort": "6443"}, "nodeRegistration": {"name": "cp1"}},
            "ClusterConfiguration": {"kubernetesVersion": "1.31.0"}}
    assert conflicts(same) == []  # "6443" is the port 6443 (compared as text), 1.31.0 one of the spellings


def test_a_changed_value_names_setting_value_and_source():
    settings = {"InitConfiguration": {"localAPIEndpoint": {"bindPort": 8443}, "nodeRegistration": {"name": "cp1.example.test"}},
                "ClusterConfiguration": {"kubernetesVersion": "v1.30.0", "networking": {"podSubnet": "10.0.0.0/16"}}}
    assert conflicts(settings) == [
        "kubeadm_config_init_settings.InitConfiguration.localAPIEndpoint.bindPort is 8443, the collection sets 6443 "
        "from the VIP's port (vip_control_plane.port)",
        'kubeadm_config_init_settings.InitConfiguration.nodeRegistration.name is "cp1.example.test", the collection '
        'sets "cp1" from the plan\'s node name',
        'kubeadm_config_init_settings.ClusterConfiguration.kubernetesVersion is "v1.30.0", the collection sets '
        '"v1.31.0" from vip_cluster.kubernetes_version',
        'kubeadm_config_init_settings.ClusterConfiguration.networking.podSubnet is "10.0.0.0/16", the collection sets '
        "nothing from vip_cluster.pod_cidrs"]


@pytest.mark.parametrize("settings", [
    {"InitConfiguration": {"localAPIEndpoint": {"advertiseAddress": "192.0.2.11"}}},  # the path stops short
    {"InitConfiguration": {"localAPIEndpoint": "192.0.2.11:8443"}},  # not a mapping on the way
    {"ClusterConfiguration": {"networking": {}}},
])
def test_a_missing_path_is_no_conflict(settings):
    assert conflicts(settings) == []


def test_a_mapping_value_is_compared_as_text_and_shown_as_json():
    settings = {"ClusterConfiguration": {"kubernetesVersion": {"major": 1}}}
    assert conflicts(settings) == [
        'kubeadm_config_init_settings.ClusterConfiguration.kubernetesVersion is {"major": 1}, the collection sets '
        '"v1.31.0" from vip_cluster.kubernetes_version']


@pytest.mark.parametrize("manager_args", [
    [{"name": "bind-address", "value": "0.0.0.0"}, {"name": "node-cidr-mask-size-ipv4", "value": "26"}],  # v1beta4
    {"bind-address": "0.0.0.0", "node-cidr-mask-size-ipv4": "26"},  # v1beta3
])
def test_a_different_mask_is_refused_in_both_shapes(manager_args):
    assert conflicts({}, manager_args, {"ipv4": 28, "ipv6": 64}) == [
        MANAGER + 'node-cidr-mask-size-ipv4 is "26", the collection sets "28" from vip_cluster.pod_cidrs and the number '
        "of nodes in the plan (cluster.node_cidr_mask_sizes)"]


def test_the_same_mask_as_text_or_number_is_accepted():
    assert conflicts({}, [{"name": "node-cidr-mask-size-ipv4", "value": "28"}], {"ipv4": 28}) == []
    assert conflicts({}, {"node-cidr-mask-size-ipv6": 64}, {"ipv6": 64}) == []


def test_the_last_of_repeated_v1beta4_arguments_counts_and_a_missing_value_is_empty():
    args = [{"name": "node-cidr-mask-size-ipv4", "value": "26"}, {"name": "node-cidr-mask-size-ipv4", "value": "28"},
            {"name": "node-cidr-mask-size-ipv6"}]
    assert conflicts({}, args, {"ipv4": 28, "ipv6": 64}) == [
        MANAGER + 'node-cidr-mask-size-ipv6 is "", the collection sets "64" from vip_cluster.pod_cidrs and the number '
        "of nodes in the plan (cluster.node_cidr_mask_sizes)"]


def test_the_single_stack_mask_is_refused_next_to_the_plans():
    args = [{"name": "node-cidr-mask-size", "value": "24"}]
    assert conflicts({}, args, {"ipv6": 64, "ipv4": 28}) == [
        MANAGER + 'node-cidr-mask-size is "24": kube-controller-manager refuses it next to '
        "node-cidr-mask-size-ipv4/-ipv6, which the collection sets from vip_cluster.pod_cidrs "
        "(cluster.node_cidr_mask_sizes)"]


@pytest.mark.parametrize("masks", [None, {}])
def test_without_masks_in_the_plan_any_mask_argument_is_the_users(masks):
    args = {"node-cidr-mask-size": "24", "node-cidr-mask-size-ipv4": "26"}
    assert conflicts({}, args, masks) == []


def test_every_conflict_at_once_owned_first():
    settings = {"InitConfiguration": {"nodeRegistration": {"name": "cp9"}}}
    out = conflicts(settings, {"node-cidr-mask-size-ipv4": "26", "node-cidr-mask-size": "24"}, {"ipv4": 28})
    assert [line.split(" is ")[0] for line in out] == [
        "kubeadm_config_init_settings.InitConfiguration.nodeRegistration.name",
        MANAGER + "node-cidr-mask-size-ipv4", MANAGER + "node-cidr-mask-size"]


def test_the_filter_reads_the_masks_from_the_plan():
    vip_kubeadm_init_conflicts = FilterModule().filters()["vip_kubeadm_init_conflicts"]
    plan = {"cluster": {"node_cidr_mask_sizes": {"ipv4": 28}}}
    assert vip_kubeadm_init_conflicts({}, OWNED, plan, {"node-cidr-mask-size-ipv4": "27"}) == [
        MANAGER + 'node-cidr-mask-size-ipv4 is "27", the collection sets "28" from vip_cluster.pod_cidrs and the number '
        "of nodes in the plan (cluster.node_cidr_mask_sizes)"]
    assert vip_kubeadm_init_conflicts({}, OWNED, {"cluster": {}}, {"node-cidr-mask-size": "24"}) == []
    with pytest.raises(AnsibleFilterError, match="vip_kubeadm_init_conflicts: the settings"):
        vip_kubeadm_init_conflicts({}, [{"kind": "InitConfiguration"}], plan)
