// Focus the first empty field of the login form.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  if (!form) {
    return;
  }
  const field = Array.from(form.querySelectorAll("input[type=text], input[type=password]")).find(
    (input) => !input.value,
  );
  if (field) {
    field.focus();
  }
});
