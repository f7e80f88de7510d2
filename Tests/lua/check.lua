--- check: assertion helpers for darwinhost's Lua tests. Failures raise errors naming both values.
local check = {}

--- Fails unless a == b.
function check.eq(a, b, what)
  if a ~= b then error(string.format("%s: expected %s, got %s", what or "eq", tostring(b), tostring(a)), 2) end
end

--- Fails unless |a - b| <= tol * (1 + |b|).
function check.near(a, b, tol, what)
  tol = tol or 1e-6
  if math.abs(a - b) > tol * (1 + math.abs(b)) then
    error(string.format("%s: expected %.9g, got %.9g", what or "near", b, a), 2)
  end
end

--- Fails unless the flat values of tensor t are near the flat Lua array `expected`.
function check.values(t, expected, tol, what)
  local flat = t:reshape(-1):totable()
  if #flat ~= #expected then error(string.format("%s: expected %d values, got %d", what or "values", #expected, #flat), 2) end
  for i = 1, #flat do
    if math.abs(flat[i] - expected[i]) > (tol or 1e-6) * (1 + math.abs(expected[i])) then
      error(string.format("%s: value %d: expected %.9g, got %.9g", what or "values", i, expected[i], flat[i]), 2)
    end
  end
end

--- Fails unless `fn` raises an error whose message contains `fragment` (plain text).
function check.raises(fn, fragment)
  local ok, err = pcall(fn)
  if ok then error("expected an error containing '" .. fragment .. "'", 2) end
  if not tostring(err):find(fragment, 1, true) then
    error("expected an error containing '" .. fragment .. "', got: " .. tostring(err), 2)
  end
end

--- Fails unless tables a and b hold equal values (shallow, arrays).
function check.same(a, b, what)
  check.eq(#a, #b, (what or "same") .. " length")
  for i = 1, #b do check.eq(a[i], b[i], (what or "same") .. "[" .. i .. "]") end
end

--- KL to `targets`, perplexity and parameter count of `model` with `genome` from `db` applied (on a clone),
-- on the held-out sequences `heldout`.
function check.measure_genome(model, db, genome, heldout, targets)
  local m = model:clone()
  m:apply(db, genome)
  return m:kl(heldout, targets), m:perplexity(heldout), m:parameters()
end

return check
