--- plot: line charts written by the host itself, as SVG (for people) and CSV (for other tools).
-- A series is {name = "DarwinLM", points = {{x1, y1}, {x2, y2}, ...}}; optional: `dashed = true` draws it dashed,
-- `color = "#1f77b4"` overrides the palette (series of one method can share a colour, solid and dashed).
local plot = {}

local palette = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

local function escape(s)
  return (tostring(s):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;"))
end

--- [lo, hi] widened where it is empty or too narrow for a double to tell points apart (1e308 and 1e308 + 1).
local function widened(lo, hi)
  local magnitude = math.max(math.abs(lo), math.abs(hi))
  if hi - lo > magnitude * 1e-9 then return lo, hi end
  local d = math.max(magnitude * 1e-3, 0.5)
  return lo - d, hi + d
end

--- About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). Where no such
-- steps exist (a span beyond the largest double), the two ends alone.
function plot.ticks(lo, hi, count)
  count = count or 5
  lo, hi = widened(lo, hi)
  local raw = (hi - lo) / count
  if not (raw > 0 and raw < math.huge) then return {lo, hi}, hi - lo end
  local magnitude = 10 ^ math.floor(math.log(raw, 10))
  local step = magnitude
  for _, m in ipairs({1, 2, 5, 10}) do
    if m * magnitude >= raw then step = m * magnitude; break end
  end
  local first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
  if not (last - first < 10 * count) then return {lo, hi}, hi - lo end
  local out = {}
  for k = first, last do out[#out + 1] = k * step end
  return out, step
end

local function format_tick(v, step)
  if step >= 1 and math.abs(v) < 2^53 then return string.format("%d", math.floor(v + 0.5)) end
  local digits = step > 0 and math.max(0, -math.floor(math.log(step, 10) + 1e-9)) or 99
  if digits > 12 or step >= 1 then return string.format("%.6g", v) end
  return string.format("%." .. digits .. "f", v)
end

--- True for a point both of whose coordinates are finite numbers (NaN and infinities are not drawn).
local function drawable(p)
  local x, y = p[1], p[2]
  return type(x) == "number" and type(y) == "number" and x == x and y == y and math.abs(x) < math.huge and math.abs(y) < math.huge
end

local function bounds(series)
  local x0, x1, y0, y1 = math.huge, -math.huge, math.huge, -math.huge
  for _, s in ipairs(series) do
    for _, p in ipairs(s.points) do
      if drawable(p) then
        x0, x1 = math.min(x0, p[1]), math.max(x1, p[1])
        y0, y1 = math.min(y0, p[2]), math.max(y1, p[2])
      end
    end
  end
  if x0 == math.huge then error("plot: no points with finite coordinates to draw", 3) end
  x0, x1 = widened(x0, x1)
  y0, y1 = widened(y0, y1)
  local pad = (y1 - y0) * 0.05
  if pad == math.huge then pad = 0 end  -- a span beyond the largest double: no room to pad
  return x0, x1, y0 - pad, y1 + pad
end

--- An SVG line chart of `series`. Options: title, xlabel, ylabel, width (720), height (420).
function plot.svg(series, o)
  o = o or {}
  local width, height = o.width or 720, o.height or 420
  local longest = 0
  for _, s in ipairs(series) do longest = math.max(longest, #s.name) end
  local left, right, top, bottom = 70, 56 + 7 * longest, 40, 50
  width = width + right - 170
  local x0, x1, y0, y1 = bounds(series)
  local function px(x) return left + (x - x0) / (x1 - x0) * (width - left - right) end
  local function py(y) return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom) end
  local out = {string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">',
    width, height, width, height), string.format('<rect width="%d" height="%d" fill="white"/>', width, height)}
  local function add(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  local xt, xstep = plot.ticks(x0, x1, 6)
  local yt, ystep = plot.ticks(y0, y1, 6)
  for _, v in ipairs(yt) do
    if v >= y0 and v <= y1 then
      add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>', left, py(v), width - right, py(v))
      add('<text x="%.1f" y="%.1f" text-anchor="end">%s</text>', left - 6, py(v) + 4, format_tick(v, ystep))
    end
  end
  for _, v in ipairs(xt) do
    add('<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>', px(v), height - bottom + 18, format_tick(v, xstep))
  end
  add('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>', left, top, width - left - right, height - top - bottom)
  for i, s in ipairs(series) do
    local color, coords = s.color or palette[(i - 1) % #palette + 1], {}
    for _, p in ipairs(s.points) do
      if drawable(p) then coords[#coords + 1] = string.format("%.1f,%.1f", px(p[1]), py(p[2])) end
    end
    add('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>', color, s.dashed and ' stroke-dasharray="6,4"' or "", table.concat(coords, " "))
    for _, p in ipairs(s.points) do
      if drawable(p) then add('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>', px(p[1]), py(p[2]), color) end
    end
    add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>', width - right + 12, top + 10 + 18 * (i - 1),
      width - right + 36, top + 10 + 18 * (i - 1), color, s.dashed and ' stroke-dasharray="6,4"' or "")
    add('<text x="%d" y="%d">%s</text>', width - right + 42, top + 14 + 18 * (i - 1), escape(s.name))
  end
  if o.title then add('<text x="%d" y="24" font-size="15" text-anchor="middle">%s</text>', (left + width - right) // 2, escape(o.title)) end
  if o.xlabel then add('<text x="%d" y="%d" text-anchor="middle">%s</text>', (left + width - right) // 2, height - 10, escape(o.xlabel)) end
  if o.ylabel then
    add('<text transform="translate(16,%d) rotate(-90)" text-anchor="middle">%s</text>', (top + height - bottom) // 2, escape(o.ylabel))
  end
  out[#out + 1] = "</svg>\n"
  return table.concat(out, "\n")
end

--- The points of `series` as CSV with a header: series,x,y (one row per point).
function plot.csv(series)
  local rows = {"series,x,y"}
  for _, s in ipairs(series) do
    for _, p in ipairs(s.points) do rows[#rows + 1] = string.format('"%s",%.10g,%.10g', s.name:gsub('"', '""'), p[1], p[2]) end
  end
  return table.concat(rows, "\n") .. "\n"
end

return plot
