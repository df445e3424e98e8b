// Map view: the records' points as clustered markers (Leaflet + markercluster, vendored); the tile
// source comes from the view or the LOOM_MAP_TILES setting, none at all when it is empty.
(function () {
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var points = JSON.parse(document.getElementById("map-points").textContent);
  var map = L.map(el, {zoomControl: true, maxZoom: 19});  // the clusters need a top zoom even without tiles
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, {maxZoom: 19, attribution: el.dataset.attribution || ""}).addTo(map);
  }
  var cluster = L.markerClusterGroup();
  var bounds = [];
  points.forEach(function (p) {
    var marker = L.marker([p.lat, p.lon], {title: p.title});
    var box = document.createElement("div");
    var a = document.createElement("a");
    a.href = p.url; a.textContent = (p.number ? p.number + " · " : "") + p.title;
    box.appendChild(a);
    p.lines.forEach(function (line) {
      var d = document.createElement("div"); d.className = "hint"; d.textContent = line; box.appendChild(d);
    });
    marker.bindPopup(box);
    cluster.addLayer(marker);
    bounds.push([p.lat, p.lon]);
  });
  map.addLayer(cluster);
  if (bounds.length) map.fitBounds(bounds, {padding: [30, 30], maxZoom: 15});
  else map.setView([55.75, 37.62], 4);
})();
