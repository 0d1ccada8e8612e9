import fluence_dao.ipfs as ipfs


def test_all_is_unique_and_resolvable() -> None:
    assert len(set(ipfs.__all__)) == len(ipfs.__all__)
    for name in ipfs.__all__:
        assert getattr(ipfs, name) is not None


def test_local_and_kubo_backends_implement_the_interface(tmp_path) -> None:  # type: ignore[no-untyped-def]
    node = ipfs.LocalIpfs(tmp_path / "repo")
    assert isinstance(node, ipfs.Ipfs)
    with ipfs.KuboClient("http://127.0.0.1:9") as client:
        assert isinstance(client, ipfs.Ipfs)
