package metrics

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDoc keeps the package comment in doc.go and only there: it says the package's place
// in the flow (STYLE.md), and a second one elsewhere would be glued to it by go doc.
func TestPackageDoc(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	sawDoc := false
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case name == "doc.go":
			sawDoc = true
			if f.Doc == nil {
				t.Errorf("doc.go has no package comment")
			} else if text := f.Doc.Text(); !strings.HasPrefix(text, "Package "+f.Name.Name+" ") {
				t.Errorf("doc.go: package comment %q does not start with %q", text, "Package "+f.Name.Name)
			}
		case f.Doc != nil:
			t.Errorf("%s carries a package comment (%q); only doc.go should", name, f.Doc.Text())
		}
	}
	if !sawDoc {
		t.Error("no doc.go")
	}
}
