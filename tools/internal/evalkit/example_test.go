package evalkit_test

import (
	"fmt"

	"github.com/pairflow/pairflow/tools/internal/evalkit"
)

// ExampleKNN: two classes of 2-d features, one pointing right, one up. Each
// test point's weighted vote over its 2 nearest train points picks its class.
func ExampleKNN() {
	train := []float32{
		1, 0.1, // class 0
		1, -0.2, // class 0
		0.1, 1, // class 1
		-0.1, 2, // class 1 (length does not matter: features are normalised)
	}
	trainLabels := []int32{0, 0, 1, 1}
	test := []float32{3, 0, 0, 1, 1, 1.2}
	testLabels := []int32{0, 1, 0} // the last point is nearer class 1
	acc := evalkit.KNN(train, trainLabels, test, testLabels, 2, 2, 0.1, 2)
	fmt.Printf("top-1 accuracy %.3f\n", acc)
	// Output: top-1 accuracy 0.667
}

// ExampleEvalRecipe: the un-augmented, normalised view of a 28×28 gray image.
func ExampleEvalRecipe() {
	fmt.Println(evalkit.EvalRecipe(28, 1, []float64{0.2860}, []float64{0.3530}))
	// Output: {"version":1,"name":"eval-28","channels":1,"ops":[{"op":"resize","size":28},{"op":"center_crop","size":28}],"output":{"format":"float32_chw","mean":[0.286],"std":[0.353]}}
}
