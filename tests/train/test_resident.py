import torch

from ganforge.train.resident import ResidentData


def test_each_epoch_visits_every_example_once():
    x = torch.arange(10, dtype=torch.float32)[:, None]
    data = ResidentData(x, None, torch.device("cpu"), seed=0)
    seen = torch.cat([data.next_batch(4).x for _ in range(5)])[:, 0]  # 20 = two epochs
    assert sorted(seen[:10].tolist()) == list(range(10))
    assert sorted(seen[10:].tolist()) == list(range(10))
    assert data.epoch == 1 and data.position == 10
    assert not torch.equal(seen[:10], seen[10:])  # a new order each epoch


def test_uint8_images_become_minus_one_to_one_and_labels_follow():
    x = torch.tensor([0, 255, 128], dtype=torch.uint8).view(3, 1, 1, 1)
    y = torch.tensor([5, 6, 7])
    data = ResidentData(x, y, torch.device("cpu"), seed=1)
    batch = data.next_batch(3)
    values = {round(v, 4): int(label) for v, label in zip(batch.x.flatten().tolist(), batch.y.tolist())}
    assert values == {-1.0: 5, 1.0: 6, round(128 / 127.5 - 1, 4): 7}
    assert batch.x.dtype == torch.float32


def test_state_round_trip_continues_the_same_order():
    x = torch.arange(7, dtype=torch.float32)[:, None]
    a = ResidentData(x, None, torch.device("cpu"), seed=3)
    a.next_batch(5)
    state = a.state_dict()
    expected = torch.cat([a.next_batch(3).x for _ in range(4)])
    b = ResidentData(x, None, torch.device("cpu"), seed=99)
    b.load_state_dict(state)
    assert torch.equal(torch.cat([b.next_batch(3).x for _ in range(4)]), expected)
