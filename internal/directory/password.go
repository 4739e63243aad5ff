package directory

import (
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// CheckPassword checks password against the bcrypt password hash of ent
// (from `waypost passwd`) and returns ent when they match. A missing entry,
// one that is not a mailbox or one without a hash costs a hash comparison
// too, so that the time taken does not tell which users exist.
func CheckPassword(ent *Entry, password string) (*Entry, error) {
	hash := dummyHash()
	ok := ent != nil && ent.Kind == Mailbox && ent.PasswordHash != ""
	if ok {
		hash = []byte(ent.PasswordHash)
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || !ok {
		return nil, fmt.Errorf("%w", ErrBadCredentials)
	}
	return ent, nil
}

// dummyHash is compared against when the user is unknown. It is made on
// first use, not when the program starts, where every waypost command
// would pay for a bcrypt hash; only the first unknown user of a hub's life
// waits for it.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("waypost: no such user"), bcrypt.DefaultCost)
	return h
})
