// Log in and register.

import * as api from "../api.js";
import { focusEl, h, uid } from "../dom.js";

function field({ label, name, type = "text", autocomplete, required = true, minlength, maxlength, help }) {
  const id = uid(name);
  const helpId = help ? `${id}-help` : null;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", {
      id,
      name,
      type,
      autocomplete,
      required,
      minlength,
      maxlength,
      "aria-describedby": helpId,
      spellcheck: type === "email" || type === "password" ? "false" : null,
    }),
    help ? h("p", { class: "field-help", id: helpId }, help) : null,
  );
}

function authPage({ title, intro, fields, submitLabel, busyLabel, onSubmit, footer }) {
  const error = h("div", { class: "form-error", role: "alert" });
  const flash = sessionStorage.getItem("curiouscore.flash");
  sessionStorage.removeItem("curiouscore.flash");
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, submitLabel);
  const form = h("form", { class: "auth-form", novalidate: true }, ...fields, error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const invalid = Array.from(form.elements).find((el) => el.willValidate && !el.checkValidity());
    if (invalid) {
      const label = form.querySelector(`label[for="${invalid.id}"]`);
      error.textContent = `${label ? label.textContent : "This field"}: ${invalid.validationMessage}`;
      focusEl(invalid);
      return;
    }
    const data = Object.fromEntries(new FormData(form).entries());
    submit.disabled = true;
    submit.textContent = busyLabel;
    form.setAttribute("aria-busy", "true");
    try {
      await onSubmit(data);
    } catch (err) {
      error.textContent = err.message || "Something went wrong. Please try again.";
      submit.disabled = false;
      submit.textContent = submitLabel;
      form.removeAttribute("aria-busy");
      focusEl(form.querySelector("input"));
    }
  });
  const el = h(
    "section",
    { class: "auth" },
    h(
      "div",
      { class: "auth-card card" },
      h("div", { class: "auth-brand", "aria-hidden": "true" }, h("span", { class: "brand-mark big" }, "C")),
      h("h1", {}, title),
      h("p", { class: "muted" }, intro),
      flash ? h("p", { class: "notice notice-info", role: "status", text: flash }) : null,
      form,
      h("p", { class: "auth-footer" }, footer),
    ),
  );
  return { el, title };
}

export async function renderLogin() {
  return authPage({
    title: "Log in",
    intro: "Log in to pick up your challenges where you left off. New here? Create an account instead.",
    fields: [
      field({ label: "Email", name: "email", type: "email", autocomplete: "email" }),
      field({ label: "Password", name: "password", type: "password", autocomplete: "current-password" }),
    ],
    submitLabel: "Log in",
    busyLabel: "Logging in…",
    onSubmit: (data) => api.login({ email: data.email.trim(), password: data.password }),
    footer: ["New here? ", h("a", { href: "#/register" }, "Create an account")],
  });
}

export async function renderRegister() {
  return authPage({
    title: "Create your account",
    intro: "Learn by playing short, narrated challenges. It takes a few seconds.",
    fields: [
      field({ label: "Display name", name: "display_name", autocomplete: "nickname", maxlength: 50, help: "Shown on the leaderboard." }),
      field({ label: "Email", name: "email", type: "email", autocomplete: "email" }),
      field({
        label: "Password",
        name: "password",
        type: "password",
        autocomplete: "new-password",
        minlength: 8,
        maxlength: 128,
        help: "At least 8 characters; not a common password.",
      }),
    ],
    submitLabel: "Create account",
    busyLabel: "Creating your account…",
    onSubmit: (data) =>
      api.register({ email: data.email.trim(), password: data.password, display_name: data.display_name.trim() }),
    footer: ["Already have an account? ", h("a", { href: "#/login" }, "Log in")],
  });
}
