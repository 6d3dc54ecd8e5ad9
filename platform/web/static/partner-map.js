// The partners' directory map, without a mapping library: places each partner with a
// position (Web Mercator) in a box; with a tile server configured (MAP_TILE_URL, a
// {z}/{x}/{y} template) the tiles are laid underneath. Without JavaScript, or when
// tiles do not load, the list of places below the box still says where everyone is.
(function () {
  "use strict";
  var box = document.getElementById("partner-map");
  var list = document.getElementById("map-places");
  if (!box || !list) { return; }
  var places = Array.prototype.map.call(list.querySelectorAll("li[data-lat]"), function (item) {
    return { lat: parseFloat(item.dataset.lat), lon: parseFloat(item.dataset.lon),
             name: item.dataset.name, link: item.querySelector("a") };
  }).filter(function (p) { return isFinite(p.lat) && isFinite(p.lon); });
  if (!places.length) { return; }
  var TILE = 256;

  function project(lat, lon, zoom) {  // Web Mercator, in pixels at this zoom
    var scale = TILE * Math.pow(2, zoom);
    var sin = Math.sin(lat * Math.PI / 180);
    return { x: (lon + 180) / 360 * scale,
             y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale };
  }

  var width = box.clientWidth || 320;
  var height = box.clientHeight || 280;
  var zoom = 17;
  for (; zoom > 1; zoom -= 1) {  // the closest zoom at which every place fits
    var points = places.map(function (p) { return project(p.lat, p.lon, zoom); });
    var xs = points.map(function (q) { return q.x; });
    var ys = points.map(function (q) { return q.y; });
    if (Math.max.apply(null, xs) - Math.min.apply(null, xs) < width - 48 &&
        Math.max.apply(null, ys) - Math.min.apply(null, ys) < height - 48) { break; }
  }
  var all = places.map(function (p) { return project(p.lat, p.lon, zoom); });
  var centreX = (Math.max.apply(null, all.map(function (q) { return q.x; })) +
                 Math.min.apply(null, all.map(function (q) { return q.x; }))) / 2;
  var centreY = (Math.max.apply(null, all.map(function (q) { return q.y; })) +
                 Math.min.apply(null, all.map(function (q) { return q.y; }))) / 2;
  var left = centreX - width / 2;
  var top = centreY - height / 2;
  box.classList.add("drawn");

  var template = box.dataset.tiles;
  if (template) {
    var count = Math.pow(2, zoom);
    for (var tx = Math.floor(left / TILE); tx <= Math.floor((left + width) / TILE); tx += 1) {
      for (var ty = Math.floor(top / TILE); ty <= Math.floor((top + height) / TILE); ty += 1) {
        if (ty < 0 || ty >= count) { continue; }
        var img = document.createElement("img");
        img.alt = "";
        img.className = "tile";
        img.src = template.replace("{z}", zoom).replace("{x}", ((tx % count) + count) % count)
          .replace("{y}", ty);
        img.style.left = (tx * TILE - left) + "px";
        img.style.top = (ty * TILE - top) + "px";
        img.addEventListener("error", function () { this.remove(); });
        box.appendChild(img);
      }
    }
  }
  places.forEach(function (p, index) {
    var at = all[index];
    var pin = document.createElement("a");
    pin.className = "pin";
    pin.href = p.link ? p.link.getAttribute("href") : "#";
    pin.textContent = String(index + 1);
    pin.title = p.name;
    pin.style.left = (at.x - left) + "px";
    pin.style.top = (at.y - top) + "px";
    box.appendChild(pin);
  });
})();
