/* Product page: the variant picker (colour, size, ...).
 *
 * Reads the SKU data from <script type="application/json" id="sku-data">. Choosing a value
 * updates the price, list price, availability and selected SKU; values that cannot be
 * combined with the other choices (no such SKU, or out of stock) are disabled. Clicking a
 * chosen value again clears it. The add-to-cart form takes the chosen SKU and is enabled only
 * for an in-stock one. The main picture shows the chosen colour's picture (data.colour_images),
 * or the first picture when no colour is chosen. Without JavaScript the buttons submit ?sku=ID
 * instead, and the server picks the picture.
 */
(function () {
  "use strict";

  var dataBlock = document.getElementById("sku-data");
  var picker = document.querySelector('[data-testid="variant-picker"]');
  if (!dataBlock || !picker) {
    return;
  }
  var data = JSON.parse(dataBlock.textContent);
  var axes = data.axes;
  var variants = data.variants;
  var buttons = Array.prototype.slice.call(picker.querySelectorAll(".variant-option"));
  var price = document.querySelector('[data-testid="sku-price"]');
  var listPrice = document.querySelector('[data-testid="sku-list-price"]');
  var availability = document.querySelector('[data-testid="sku-availability"]');
  var selectedSku = document.querySelector('[data-testid="selected-sku"]');
  var cartSku = document.querySelector('[data-testid="add-to-cart-sku"]');
  var cartButton = document.querySelector('[data-testid="add-to-cart"]');
  var picture = document.querySelector('[data-testid="product-image"]');
  var firstPicture = data.first_image;
  var colourImages = data.colour_images || {};
  var labels = Array.prototype.map.call(
    picker.querySelectorAll("legend"),
    function (legend) { return legend.textContent.trim(); }
  );
  var selection = {};

  buttons.forEach(function (button) {
    if (button.getAttribute("aria-pressed") === "true") {
      selection[button.dataset.axis] = button.dataset.value;
    }
  });

  /* Variants having `value` on axis `index` and the chosen values on every other axis. */
  function matching(index, value) {
    return variants.filter(function (variant) {
      if (variant.values[index] !== value) {
        return false;
      }
      return axes.every(function (axis, other) {
        return other === index || !(axis in selection) || variant.values[other] === selection[axis];
      });
    });
  }

  function currentVariant() {
    if (!axes.every(function (axis) { return axis in selection; })) {
      return null;
    }
    return variants.find(function (variant) {
      return axes.every(function (axis, i) { return variant.values[i] === selection[axis]; });
    }) || null;
  }

  function renderOptions() {
    buttons.forEach(function (button) {
      var index = axes.indexOf(button.dataset.axis);
      var found = matching(index, button.dataset.value);
      var stocked = found.filter(function (variant) { return variant.available > 0; });
      var chosen = selection[button.dataset.axis] === button.dataset.value;
      button.disabled = !chosen && stocked.length === 0;
      button.classList.toggle("is-selected", chosen);
      button.classList.toggle("is-soldout", found.length > 0 && stocked.length === 0);
      button.classList.toggle("is-missing", found.length === 0);
      button.setAttribute("aria-pressed", chosen ? "true" : "false");
      var target = stocked[0] || found[0];
      button.value = target ? String(target.id) : "";
    });
  }

  function setAvailability(state, text) {
    availability.dataset.state = state;
    availability.textContent = text;
    availability.classList.toggle("is-in", state === "in-stock");
    availability.classList.toggle("is-out", state === "out-of-stock");
  }

  /* The chosen colour's picture; any axis whose value has a picture is the colour axis. */
  function renderPicture() {
    if (!picture || !firstPicture) {
      return;
    }
    var shown = firstPicture;
    Object.keys(selection).forEach(function (axis) {
      if (Object.prototype.hasOwnProperty.call(colourImages, selection[axis])) {
        shown = colourImages[selection[axis]];
      }
    });
    if (picture.getAttribute("src") !== shown) {
      picture.setAttribute("src", shown);
    }
  }

  function renderSelection() {
    renderPicture();
    var variant = currentVariant();
    price.textContent = variant ? variant.price : data.price_range;
    listPrice.textContent = variant && variant.list_price ? variant.list_price : "";
    listPrice.hidden = !(variant && variant.list_price);
    if (!variant) {
      setAvailability("choose", data.text.choose + ": " + labels.join(" / "));
    } else if (variant.available > 0) {
      setAvailability("in-stock", data.text.in_stock + " · " + variant.available);
    } else {
      setAvailability("out-of-stock", data.text.out_of_stock);
    }
    selectedSku.dataset.skuId = variant ? String(variant.id) : "";
    selectedSku.textContent = variant ? "已选 Selected: " + variant.values.join(" / ") : "";
    if (cartSku && cartButton) {
      /* Add to cart follows the choice: only a complete, in-stock choice can be added. */
      cartSku.value = variant ? String(variant.id) : "";
      cartButton.disabled = !(variant && variant.available > 0);
    }
    var url = new URL(window.location.href);
    if (variant) {
      url.searchParams.set("sku", String(variant.id));
    } else {
      url.searchParams.delete("sku");
    }
    window.history.replaceState(null, "", url.toString());
  }

  picker.addEventListener("click", function (event) {
    var button = event.target.closest(".variant-option");
    if (!button || button.disabled) {
      return;
    }
    event.preventDefault();
    var axis = button.dataset.axis;
    if (selection[axis] === button.dataset.value) {
      delete selection[axis];
    } else {
      selection[axis] = button.dataset.value;
    }
    renderOptions();
    renderSelection();
  });

  picker.addEventListener("submit", function (event) {
    event.preventDefault();
  });

  renderOptions();
  picker.classList.add("is-live");
})();
