package accounts

import (
	"net/http"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
)

// Routes registers the auth function's routes on r.
func (a *Auth) Routes(r *httpapi.Router) {
	r.HandleFunc("POST /api/v1/auth/register", a.handleRegister)
	r.HandleFunc("POST /api/v1/auth/verify", a.handleVerify)
	r.HandleFunc("POST /api/v1/auth/verify/resend", a.handleResend)
	r.HandleFunc("POST /api/v1/auth/login", a.handleLogin)
	r.HandleFunc("POST /api/v1/auth/refresh", a.handleRefresh)
	r.HandleFunc("POST /api/v1/auth/logout", a.handleLogout)
	r.HandleFunc("POST /api/v1/auth/password/forgot", a.handleForgot)
	r.HandleFunc("POST /api/v1/auth/password/reset", a.handleReset)
}

// accepted is the one answer to every request that sends mail, whoever the address belongs to.
var accepted = map[string]string{"status": "verification_sent"}

// acceptedReset is the answer to a forgotten password, whoever the address belongs to.
var acceptedReset = map[string]string{"status": "reset_code_sent"}

// decode reads the request body; every auth answer is personal and never cached (RFC 6749
// §5.1 asks this of token responses; it is as true of the errors).
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	w.Header().Set("Cache-Control", "no-store")
	if err := httpapi.DecodeJSON(w, r, v); err != nil {
		httpapi.WriteError(w, r, err)
		return false
	}
	return true
}

func required(field, value string) error {
	if value == "" {
		return vodfc.InvalidField(field, "is required")
	}
	return nil
}

func (a *Auth) handleRegister(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Nickname string `json:"nickname"`
	}
	if !decode(w, r, &in) {
		return
	}
	err := a.Register(r.Context(), RegisterInput{Email: in.Email, Password: in.Password, Nickname: in.Nickname,
		ClientIP: httpapi.ClientIP(r, a.proxyHops)})
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, accepted)
}

func (a *Auth) handleVerify(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
		Code  string `json:"code"`
	}
	if !decode(w, r, &in) {
		return
	}
	s, err := a.Verify(r.Context(), in.Email, in.Code, httpapi.ClientIP(r, a.proxyHops))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s)
}

func (a *Auth) handleResend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := a.Resend(r.Context(), in.Email, httpapi.ClientIP(r, a.proxyHops)); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, accepted)
}

func (a *Auth) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !decode(w, r, &in) {
		return
	}
	s, err := a.Login(r.Context(), in.Email, in.Password, httpapi.ClientIP(r, a.proxyHops))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s)
}

func (a *Auth) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := required("refresh_token", in.RefreshToken); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	pair, err := a.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, pair)
}

func (a *Auth) handleLogout(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := required("refresh_token", in.RefreshToken); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := a.Logout(r.Context(), in.RefreshToken); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) handleForgot(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := a.ForgotPassword(r.Context(), in.Email, httpapi.ClientIP(r, a.proxyHops)); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, acceptedReset)
}

func (a *Auth) handleReset(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email       string `json:"email"`
		Code        string `json:"code"`
		NewPassword string `json:"new_password"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := a.ResetPassword(r.Context(), in.Email, in.Code, in.NewPassword, httpapi.ClientIP(r, a.proxyHops)); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
