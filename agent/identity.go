package agent

import (
	"strconv"

	"github.com/google/uuid"
)

// idNamespace scopes the name-based (version 5) UUIDs the agent generates, so they never collide
// with ids made by anyone else from the same names.
var idNamespace = uuid.MustParse("6f1c2a4e-9b7d-4e21-8a53-3c0d5e7f9a12")

// identity is the Graph call identity of one record.
type identity struct {
	CallChainID, ParticipantID, MediaLegID string
}

// generatedIdentity makes stable ids for a call the agent could not get real ids for (DESIGN §6):
// the same capture analysed twice gives the same ids, so a re-run is recognisably the same call.
func generatedIdentity(device string, c *call) identity {
	base := device + "|" + c.remote.String() + "|" + strconv.FormatInt(c.first, 10)
	return identity{
		CallChainID:   uuid.NewSHA1(idNamespace, []byte("call|"+base)).String(),
		ParticipantID: uuid.NewSHA1(idNamespace, []byte("participant|"+base)).String(),
		MediaLegID:    uuid.NewSHA1(idNamespace, []byte("leg|"+base)).String(),
	}
}
