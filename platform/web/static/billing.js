// The billing page's card form: Stripe.js Elements collect the card, a
// SetupIntent (asked from our server) confirms it, and the form then posts
// the SetupIntent's id so the server makes the subscription with that card.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("card-submit");
  var token = form.querySelector("input[name=csrf_token]").value;
  var stripe = Stripe(form.dataset.key);
  var card = stripe.elements().create("card");
  card.mount("#card-element");

  form.addEventListener("submit", function (event) {
    if (document.getElementById("setup_intent").value) { return; }
    event.preventDefault();
    errors.textContent = "";
    button.disabled = true;
    fetch(form.dataset.setupUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": token, "Accept": "application/json"}
    })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (!body.client_secret) { throw new Error(body.error || "The card cannot be set up just now."); }
        return stripe.confirmCardSetup(body.client_secret, {payment_method: {card: card}});
      })
      .then(function (result) {
        if (result.error) { throw new Error(result.error.message || "The card was refused."); }
        document.getElementById("setup_intent").value = result.setupIntent.id;
        form.submit();
      })
      .catch(function (error) {
        errors.textContent = error.message;
        button.disabled = false;
      });
  });
})();
