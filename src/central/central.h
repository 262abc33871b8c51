// Central: what a shard holds outside thread caches. Free blocks flushed by
// the shard's threads wait on lock-free MPSC lists (Shard::central); fresh
// blocks are carved from the shard's runs under OwnerExcl.
#pragma once
#include "arena/arena.h"
#include "shard/shard.h"

namespace hz::central {

// Carves up to want fresh blocks of cls for shard into a list; returns its
// head (nullptr when the arena is exhausted) and sets *got and *last.
FreeBlock* carve(unsigned shard, unsigned cls, unsigned want, unsigned* got, FreeBlock** last);

}  // namespace hz::central
