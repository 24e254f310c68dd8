import asyncio

from shared.locks import KeyedLocks


def test_an_idle_lock_set_is_still_truthy_so_it_is_shared_not_replaced():
    # `locks or KeyedLocks()` once silently replaced an idle (empty) lock set with a new one
    assert KeyedLocks()


async def test_holders_of_one_key_run_one_at_a_time_and_other_keys_do_not_wait():
    locks = KeyedLocks()
    inside: list[str] = []
    overlaps = []

    async def work(key: str, tag: str) -> None:
        async with locks.hold(key):
            if any(k == key for k, _ in inside):
                overlaps.append(tag)
            inside.append((key, tag))
            await asyncio.sleep(0)
            inside.remove((key, tag))

    await asyncio.gather(*(work("a", f"a{i}") for i in range(20)), *(work("b", f"b{i}") for i in range(20)))
    assert overlaps == []
    assert locks.held() == 0


async def test_a_task_holding_a_key_may_take_it_again_without_waiting_for_itself():
    locks = KeyedLocks()
    async with locks.hold("a"):
        async with locks.hold("a"):
            assert locks.held() == 1
    assert locks.held() == 0
