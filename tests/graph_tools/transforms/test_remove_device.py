"""remove_device against the C++ reference."""


def test_matches_reference(golden):
  case = golden("remove_device")
  assert any(n.device for n in case.load_input().node)
  ours, reference = case.check()
  assert not any(n.device for n in ours.node)
  assert list(ours.node) == list(reference.node)
