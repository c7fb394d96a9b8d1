"""moto_server for the benchmarks: per-resource lookups made direct, and DescribeInstances
paged the way EC2 pages it.

moto 5.2.1 answers "the tags of resource X", "the instance with id X" and "the volume with
id X" by scanning every tag, instance or volume in the account, and it does so once per
instance it launches, filters or serialises. A DescribeInstances or RunInstances over N
instances therefore costs O(N x account size), which makes a 10,000-instance account
unusable (minutes per page). This launcher replaces those three lookups with direct reads
that return exactly the same objects (the resource-id filter of the tag lookup is an
anchored exact match; instance and volume ids are unique), then runs moto's own server
main with the same arguments.

moto also counts DescribeInstances' MaxResults in reservations, where EC2 counts instances
(a reservation of 5,000 instances would be one "page"). The sweep benchmark counts pages,
so this launcher pages by instances as EC2 does: at most MaxResults instances per page,
a reservation split across pages when it must be, all of them when MaxResults is absent.

Nothing else changes, and no Phoenix code runs differently.

Usage: python3 bench/moto-for-bench.py -H 127.0.0.1 -p PORT
"""

import copy
import sys

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidInstanceIdError, InvalidParameterCombination
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.responses.instances import InstanceResponse
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.server import main


def _get_tags(self):  # type: ignore[no-untyped-def]
    resource_id = getattr(self, "id", None)
    if not resource_id:
        return []
    # .get, not [...]: the backend's tags are a defaultdict and a read must not add a key.
    tags = self.ec2_backend.tags.get(resource_id)
    if not tags:
        return []
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [
        {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
        for key, value in tags.items()
    ]


def _get_instance(self, instance_id):  # type: ignore[no-untyped-def]
    # Newest reservation first: the instance asked for is almost always one just launched.
    for reservation in reversed(self.reservations.values()):
        for instance in reservation.instances:
            if instance.id == instance_id:
                return instance
    raise InvalidInstanceIdError(instance_id)


_describe_volumes = EBSBackend.describe_volumes


def _describe_volumes_direct(self, volume_ids=None, filters=None):  # type: ignore[no-untyped-def]
    if volume_ids and len(volume_ids) == 1 and not filters and volume_ids[0] in self.volumes:
        return [self.volumes[volume_ids[0]]]
    return _describe_volumes(self, volume_ids, filters)


def _describe_instances_paged_by_instance(self):  # type: ignore[no-untyped-def]
    self.error_on_dryrun()
    if "InstanceId.1" in self.data and "MaxResults" in self.data:
        raise InvalidParameterCombination(
            "The parameter instancesSet cannot be used with the parameter maxResults"
        )
    filter_dict = self._filters_from_querystring()
    instance_ids = self._get_param("InstanceIds", [])
    if instance_ids:
        reservations = self.ec2_backend.get_reservations_by_instance_ids(
            instance_ids, filters=filter_dict
        )
    else:
        reservations = self.ec2_backend.describe_instances(filters=filter_dict)
    max_results = self._get_param("MaxResults")
    if max_results is None:
        return ActionResult({"Reservations": reservations, "NextToken": None})
    token = self._get_param("NextToken")
    start = int(token) if token else 0
    end = start + int(max_results)
    page = []
    seen = 0
    for reservation in reservations:
        count = len(reservation.instances)
        low, high = max(start - seen, 0), min(end - seen, count)
        if low < high:
            part = copy.copy(reservation)
            part.instances = reservation.instances[low:high]
            page.append(part)
        seen += count
    return ActionResult({"Reservations": page, "NextToken": str(end) if seen > end else None})


TaggedEC2Resource.get_tags = _get_tags
InstanceBackend.get_instance = _get_instance
EBSBackend.describe_volumes = _describe_volumes_direct
InstanceResponse.describe_instances = _describe_instances_paged_by_instance

if __name__ == "__main__":
    main(sys.argv[1:])
