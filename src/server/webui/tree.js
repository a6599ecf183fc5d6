// A conversation's messages form a tree: each message names its parent (null for the first
// one). Regenerate adds a sibling reply, an edit adds a sibling user message; what the page
// shows is the path from the root down to the conversation's leaf. `messages` maps id ->
// message.

// The messages under `parentId`, oldest first.
export function childrenOf(messages, parentId) {
  return [...messages.values()].filter((m) => m.parent === parentId).sort((a, b) => a.created - b.created);
}

// The leaf reached from `id` by always taking the newest child.
export function deepestFrom(messages, id) {
  for (let kids = childrenOf(messages, id); kids.length; kids = childrenOf(messages, id)) {
    id = kids[kids.length - 1].id;
  }
  return id;
}

// The messages from the root down to `leafId` (empty when it is unknown).
export function pathTo(messages, leafId) {
  const path = [];
  for (let m = messages.get(leafId); m; m = messages.get(m.parent)) path.unshift(m);
  return path;
}
