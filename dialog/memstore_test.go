package dialog_test

import (
	"testing"

	"orderbot/dialog"
	"orderbot/dialog/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dialog.Store { return dialog.NewMemoryStore() })
}
